"""Figures of a gradient-lab run, from hand-made step records."""

import numpy as np

from resnet.gradient_charts import (curve_figure, default_steps, log_axis, norm_heatmap, norms_by_depth_figure,
                                    step_axis)
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


def test_step_axes_label_whole_steps_only():
    assert curve_figure(records(), "loss").layout.xaxis.dtick == 1  # steps 1..3, never 1.5
    assert norm_heatmap(records(), "plain20").layout.xaxis.dtick == 1
    assert step_axis(range(1, 201))["dtick"] == 50 and step_axis(range(1, 41))["dtick"] == 5
    assert all(float(step_axis(range(1, n))["dtick"]).is_integer() for n in (2, 7, 33, 999, 5000))


def test_log_axis_labels_read_as_numbers():
    within = log_axis([0.4, 3.7])  # less than two decades: 1-2-5 ticks, written out
    assert within["ticktext"][:6] == ["0.1", "0.2", "0.5", "1", "2", "5"] and within["tickvals"][3] == 1.0
    assert log_axis([1e-11, 1e5]) == {"type": "log", "dtick": 1, "exponentformat": "power"}
    figure = norms_by_depth_figure(records())  # 0.01 … 300: five decades, powers of ten
    assert (figure.layout.yaxis.dtick, figure.layout.yaxis.exponentformat) == (1, "power")
    assert figure.layout.yaxis.type == "log" and figure.layout.yaxis.title.text.startswith("‖∂loss")
    resnet_only = norms_by_depth_figure([r for r in records() if r.net == "resnet20"], [1])  # 0.01 … 1
    assert list(resnet_only.layout.yaxis.ticktext) == ["0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1", "2", "5"]
