"""Figures of the Predict page, from hand-made scores and maps."""

import json

import numpy as np
import plotly.graph_objects as go
import pytest

from resnet.inference import UNTRAINED_LABEL, ClassScore
from resnet.predict_charts import TRAINED_COLOUR, UNTRAINED_COLOUR, class_name, heat_figure, top_figure

SCORES = (ClassScore(281, "n02123045", "tabby", 0.625), ClassScore(285, "n02124075", "Egyptian cat", 0.25))


def test_a_class_is_named_by_its_label_and_index():
    assert class_name(SCORES[0]) == "tabby (#281)"


def test_the_top_classes_are_bars_of_their_probability_most_probable_on_top():
    figure = top_figure(SCORES, pretrained=True)
    [bars] = figure.data
    assert list(bars.y) == ["tabby (#281)", "Egyptian cat (#285)"] and list(bars.x) == [0.625, 0.25]
    assert list(bars.text) == ["62.5%", "25.0%"] and bars.orientation == "h"
    assert bars.marker.color == TRAINED_COLOUR
    assert figure.layout.title.text == "Top-2" and figure.layout.yaxis.autorange == "reversed"
    assert tuple(figure.layout.xaxis.range) == (0, 1)


def test_random_weights_give_grey_bars_titled_untrained():
    figure = top_figure(SCORES, pretrained=False)
    assert figure.data[0].marker.color == UNTRAINED_COLOUR and figure.layout.title.text == UNTRAINED_LABEL


def test_a_heat_map_keeps_its_values_on_a_fixed_zero_to_one_scale_row_zero_on_top():
    values = np.array([[0.0, 0.5], [1.0, 0.25]])
    figure = heat_figure(values, "conv5_block3_out: 2×2 map")
    [heat] = figure.data
    np.testing.assert_array_equal(heat.z, values)
    assert (heat.zmin, heat.zmax) == (0, 1)
    assert figure.layout.yaxis.autorange == "reversed" and figure.layout.yaxis.scaleanchor == "x"
    assert figure.layout.title.text == "conv5_block3_out: 2×2 map"


@pytest.mark.parametrize("make", [lambda: top_figure(SCORES, pretrained=True),
                                  lambda: top_figure(SCORES, pretrained=False),
                                  lambda: heat_figure(np.random.default_rng(0).random((7, 7), np.float32), "7×7 map")],
                         ids=["top", "untrained", "heat"])
def test_each_figure_is_what_plotly_makes_of_it_with_its_checks_on(make):
    # The page's figures are built unchecked (fast); plotly, checking, raises on a key it does not know and rewrites
    # values it spells otherwise (a named colour scale): the browser must get the same figure either way.
    figure = make()
    checked = go.Figure(figure.to_dict())
    assert json.loads(figure.to_json()) == json.loads(checked.to_json())
