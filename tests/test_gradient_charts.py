"""Figures of a gradient-lab run, from hand-made step records."""

import numpy as np

from resnet.gradient_charts import curve_figure, default_steps, norm_heatmap, norms_by_depth_figure
from resnet.training import StepRecord

LAYERS = ("conv1_conv", "conv2_block1_1_conv", "predictions")


def records():
    made = []
    for step in (1, 2, 3):
        for net, scale in (("resnet20", 1.0), ("plain20", 100.0)):
            norms = tuple((layer, scale * 10.0 ** -depth * step) for depth, layer in enumerate(LAYERS))
            made.append(StepRecord(net, step, 2.0 / step, 0.1 * step, norms, 0.1, 0.2 * step))
    return made


def test_curves_have_one_line_per_net_over_the_steps():
    figure = curve_figure(records(), "loss")
    assert sorted(trace.name for trace in figure.data) == ["plain20", "resnet20"]
    residual = next(trace for trace in figure.data if trace.name == "resnet20")
    assert list(residual.x) == [1, 2, 3] and np.allclose(residual.y, [2.0, 1.0, 2 / 3])


def test_norms_by_depth_default_to_the_first_and_latest_step_on_a_log_axis():
    assert default_steps(records()) == [1, 3]
    figure = norms_by_depth_figure(records())
    assert figure.layout.yaxis.type == "log"
    assert sorted(trace.name for trace in figure.data) == ["plain20, step 1", "plain20, step 3",
                                                          "resnet20, step 1", "resnet20, step 3"]
    plain_last = next(trace for trace in figure.data if trace.name == "plain20, step 3")
    assert list(plain_last.x) == [1, 2, 3] and np.allclose(plain_last.y, [300.0, 30.0, 3.0])
    assert [t.name for t in norms_by_depth_figure(records(), [2]).data] == ["resnet20, step 2", "plain20, step 2"]


def test_heat_map_is_log_norm_of_layer_by_step_for_one_net():
    figure = norm_heatmap(records(), "plain20")
    (heat,) = figure.data
    assert list(heat.y) == list(LAYERS) and list(heat.x) == [1, 2, 3]
    assert np.allclose(np.array(heat.z), np.log10([[100 * s for s in (1, 2, 3)], [10 * s for s in (1, 2, 3)],
                                                   [1 * s for s in (1, 2, 3)]]))
