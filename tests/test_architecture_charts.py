"""Figures of the Architecture page, from the stage totals of real tables."""

import pytest

import resnet
from resnet import table
from resnet.architecture_charts import stage_figure


@pytest.fixture(scope="module")
def stages():
    return {"ResNet-20": table.stage_totals(table.layer_table(resnet.build("resnet20"))),
            "ResNet-20 plain": table.stage_totals(table.layer_table(resnet.build("resnet20", plain=True)))}


def test_one_bar_per_stage_for_parameters_and_for_macs(stages):
    figure = stage_figure({"ResNet-20": stages["ResNet-20"]})
    params, macs = figure.data
    assert list(params.x) == list(macs.x) == ["stem", "conv2", "conv3", "conv4", "head"]
    assert list(params.y) == list(stages["ResNet-20"].params) and sum(params.y) == 271_098
    assert list(macs.y) == list(stages["ResNet-20"].macs)
    assert (params.xaxis, macs.xaxis) == ("x", "x2")  # side by side
    assert [a.text for a in figure.layout.annotations] == ["Parameters per stage", "MACs per stage"]


def test_each_network_is_one_colour_with_one_legend_entry(stages):
    figure = stage_figure(stages)
    assert [trace.name for trace in figure.data] == ["ResNet-20"] * 2 + ["ResNet-20 plain"] * 2
    assert [trace.showlegend for trace in figure.data] == [True, False, True, False]
    assert [trace.legendgroup for trace in figure.data] == [trace.name for trace in figure.data]
    assert figure.layout.barmode == "group"
    # The zero-pad shortcuts have no weights, so the twins differ in their additions only: equal parameters.
    assert list(figure.data[0].y) == list(figure.data[2].y)
