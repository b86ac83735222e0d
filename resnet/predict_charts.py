"""Plotly figures of the Predict page: a photo's top classes, and a map (Grad-CAM's) over its crop."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import get_colorscale

from resnet.answers import UNTRAINED_LABEL, ClassScore

TRAINED_COLOUR, UNTRAINED_COLOUR = "#1f77b4", "#9e9e9e"


def class_name(score: ClassScore) -> str:
    """How a class is named on every page and figure (tests/load/classroom.py reads the top-5 back in this form)."""
    return f"{score.label} (#{score.index})"


def top_bars_spec(scores: Sequence[ClassScore], *, pretrained: bool) -> dict:
    """The classes as horizontal bars of their probability, grey where the weights are random (a plotly trace)."""
    return {"type": "bar", "x": [s.probability for s in scores], "y": [class_name(s) for s in scores],
            "orientation": "h", "text": [f"{s.probability:.1%}" for s in scores], "textposition": "auto",
            "marker": {"color": TRAINED_COLOUR if pretrained else UNTRAINED_COLOUR},
            "hovertemplate": "%{y}: %{x:.2%}<extra></extra>"}


def top_bars(scores: Sequence[ClassScore], *, pretrained: bool) -> go.Bar:
    """The same bars as a checked plotly trace, for figures plotly assembles itself (subplots)."""
    return go.Bar(top_bars_spec(scores, pretrained=pretrained))


def unchecked_figure(data: list[dict], layout: dict) -> go.Figure:
    """A figure of specs written in this module, not checked key by key as plotly builds it: every upload makes two,
    3.4 and 4.4 ms with plotly's checks against 1.0 and 1.5 ms without (2 cores; `update_layout`, a path parsed and
    checked per key, had made them 2–3× dearer still). `_validate` is plotly's own figure-level switch (private, so
    tests/test_predict_charts.py builds each figure again with the checks on and compares the two)."""
    return go.Figure({"data": data, "layout": layout}, _validate=False)


MARGIN = {"l": 10, "r": 10, "t": 50, "b": 10}
# Plotly's Jet spelled out as its checks would spell it: plotly.js knows a "Jet" of its own, with other stops.
JET = get_colorscale("Jet")


def top_figure(scores: Sequence[ClassScore], *, pretrained: bool) -> go.Figure:
    """The top classes, most probable at the top; titled UNTRAINED where the weights are random."""
    return unchecked_figure([top_bars_spec(scores, pretrained=pretrained)], {
        "title": {"text": f"Top-{len(scores)}" if pretrained else UNTRAINED_LABEL},
        "xaxis": {"title": {"text": "probability"}, "range": [0, 1], "tickformat": ".0%"},
        "yaxis": {"autorange": "reversed"}, "height": 300, "margin": MARGIN})


def heat_figure(values: np.ndarray, title: str) -> go.Figure:
    """A map of values in [0, 1] (row 0 at the top, square cells), as the crop is drawn beside it."""
    return unchecked_figure(
        [{"type": "heatmap", "z": np.asarray(values), "colorscale": JET, "zmin": 0, "zmax": 1,
          "hovertemplate": "row %{y}, column %{x}: %{z:.2f}<extra></extra>"}],
        {"title": {"text": title}, "height": 420, "margin": MARGIN, "plot_bgcolor": "white",
         "yaxis": {"autorange": "reversed", "scaleanchor": "x", "showticklabels": False},
         "xaxis": {"showticklabels": False}})
