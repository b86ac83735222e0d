"""Plotly figures of the Predict page: a photo's top classes, and a map (Grad-CAM's) over its crop."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from resnet.answers import UNTRAINED_LABEL, ClassScore

TRAINED_COLOUR, UNTRAINED_COLOUR = "#1f77b4", "#9e9e9e"


def class_name(score: ClassScore) -> str:
    """How a class is named on every page and figure (tests/load/classroom.py reads the top-5 back in this form)."""
    return f"{score.label} (#{score.index})"


def top_bars(scores: Sequence[ClassScore], *, pretrained: bool) -> go.Bar:
    """The classes as horizontal bars of their probability, grey where the weights are random."""
    return go.Bar(
        x=[s.probability for s in scores], y=[class_name(s) for s in scores], orientation="h",
        text=[f"{s.probability:.1%}" for s in scores], textposition="auto",
        marker_color=TRAINED_COLOUR if pretrained else UNTRAINED_COLOUR,
        hovertemplate="%{y}: %{x:.2%}<extra></extra>")


# The figures below are made whole, trace and layout in one constructor: each upload makes two, and plotly's
# `update_layout` (a path parsed and validated per key) made them 2–3× as costly (5–6 ms each on two cores).

def top_figure(scores: Sequence[ClassScore], *, pretrained: bool) -> go.Figure:
    """The top classes, most probable at the top; titled UNTRAINED where the weights are random."""
    return go.Figure(top_bars(scores, pretrained=pretrained), go.Layout(
        title={"text": f"Top-{len(scores)}" if pretrained else UNTRAINED_LABEL},
        xaxis={"title": {"text": "probability"}, "range": [0, 1], "tickformat": ".0%"},
        yaxis={"autorange": "reversed"}, height=300, margin={"l": 10, "r": 10, "t": 50, "b": 10}))


def heat_figure(values: np.ndarray, title: str) -> go.Figure:
    """A map of values in [0, 1] (row 0 at the top, square cells), as the crop is drawn beside it."""
    return go.Figure(
        go.Heatmap(z=values, colorscale="Jet", zmin=0, zmax=1,
                   hovertemplate="row %{y}, column %{x}: %{z:.2f}<extra></extra>"),
        go.Layout(title={"text": title}, height=420, margin={"l": 10, "r": 10, "t": 50, "b": 10},
                  yaxis={"autorange": "reversed", "scaleanchor": "x", "showticklabels": False},
                  xaxis={"showticklabels": False}, plot_bgcolor="white"))
