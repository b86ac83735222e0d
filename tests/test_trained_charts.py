"""Figures of the lab's trained nets draw what was measured, from the nets of a real short run."""

import numpy as np

from resnet.lab_measures import measure
from resnet.trained_charts import (class_accuracy_figure, confusion_figure, lesion_figure, line_figure,
                                   sanity_figure, slice_figure)


def test_each_figure_draws_the_measured_numbers(trained_pair):
    nets = {name: measure(net, lesions=True, line_points=3, slice_side=3, sanity=True)
            for name, net in trained_pair.items()}
    net = nets["resnet20"]
    confusion = confusion_figure(net.result, "resnet20")
    np.testing.assert_array_equal(confusion.data[0].z, net.result.confusion)
    assert list(confusion.data[0].y) == list(net.result.class_names)
    bars = class_accuracy_figure(nets)
    assert sorted(trace.name for trace in bars.data) == ["plain20", "resnet20"]
    lesions = lesion_figure(nets)
    assert [list(trace.y) for trace in lesions.data] == [[lesion.accuracy for lesion in n.lesions]
                                                         for n in nets.values()]
    line = line_figure(nets)
    assert list(line.data[0].x) == [-0.5, 0.0, 0.5, 1.0, 1.5]
    grid = slice_figure(net)
    np.testing.assert_allclose(grid.data[0].z, np.log10(net.slice.loss))
    sanity = sanity_figure(nets)
    assert list(sanity.data[0].x)[:2] == ["nothing", "head"] and abs(sanity.data[0].y[0] - 1) < 1e-9
