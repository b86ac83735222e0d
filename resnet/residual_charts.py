"""Figures of the three looks inside a residual network: lesions, receptive fields, the signal through shortcuts.

Bars and lines are plotly figures; a receptive field is a picture (uint8 RGB), like the feature maps, because its
heat map has one value per input pixel and would be hundreds of KB of chart data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from resnet.answers import UNTRAINED_LABEL, ClassScore
from resnet.block_signal import BlockSignal
from resnet.fields import Box
from resnet.lesion_result import LesionResult
from resnet.pictures import heat_colours
from resnet.predict_charts import class_name, top_bars

if TYPE_CHECKING:  # a block's name and kind are all a chart reads; the blocks themselves are found in a network
    from resnet.residual_blocks import ResidualBlock

SATURATION_PERCENTILE = 99
KIND_COLOURS = {"identity": "#1f77b4", "projection": "#d62728", "zeros": "#ff7f0e", "pooled": "#9467bd"}
KIND_NAMES = {"identity": "identity shortcut", "projection": "projection shortcut (1×1 conv, down-sampling)",
              "zeros": "zero-padding shortcut (down-sampling)", "pooled": "max-pool shortcut (down-sampling)"}


def _title(text: str, pretrained: bool) -> str:
    return text if pretrained else f"{text} — {UNTRAINED_LABEL}"


def top_pair_figure(intact: Sequence[ClassScore], lesioned: Sequence[ClassScore], removed: str, *,
                    pretrained: bool) -> go.Figure:
    """The intact network's top classes beside those of the network without `removed`."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Intact", f"Without {removed}"), horizontal_spacing=0.3)
    for column, scores in enumerate((intact, lesioned), start=1):
        figure.add_trace(top_bars(scores, pretrained=pretrained).update(showlegend=False), row=1, col=column)
        figure.update_xaxes(range=[0, 1], tickformat=".0%", row=1, col=column)
        figure.update_yaxes(autorange="reversed", row=1, col=column)
    figure.update_layout(title=_title(f"Top-{len(intact)}, intact and lesioned", pretrained), height=320,
                         margin=dict(l=10, r=10, t=70, b=10))
    return figure


def lesion_depth_figure(result: LesionResult, blocks: Sequence[ResidualBlock], top: ClassScore, *,
                        pretrained: bool) -> go.Figure:
    """The intact top-1 class's probability with each block removed in turn, over depth; the dashed line is the
    intact network's. `result` holds one single-block lesion per block (its other rows are ignored)."""
    single = result.single_blocks()
    figure = go.Figure()
    for kind in KIND_COLOURS:
        mine = [block for block in blocks if block.kind == kind and block.name in single]
        if mine:
            figure.add_trace(go.Bar(x=[b.name for b in mine], y=[single[b.name] for b in mine],
                                    name=KIND_NAMES[kind], marker_color=KIND_COLOURS[kind],
                                    hovertemplate="without %{x}: %{y:.2%}<extra></extra>"))
    intact = float(result.intact[top.index])
    figure.add_hline(y=intact, line_dash="dash", annotation_text=f"intact {intact:.1%}",
                     annotation_position="top left")
    figure.update_layout(
        title=_title(f"Probability of “{class_name(top)}” with each block removed", pretrained), height=380,
        xaxis=dict(title="block removed (input on the left)", categoryorder="array",
                   categoryarray=[b.name for b in blocks], tickangle=-60),
        yaxis=dict(title="probability", range=[0, 1], tickformat=".0%"), barmode="overlay",
        legend=dict(orientation="h", y=-0.45), margin=dict(l=10, r=10, t=50, b=10))
    return figure


def shortcut_figure(signals: Sequence[BlockSignal], *, pretrained: bool) -> go.Figure:
    """‖F(x)‖ / ‖x‖ per block over depth: below 1, the residual branch adds less than the shortcut carries."""
    figure = go.Figure()
    order = [s.block for s in signals]
    for kind in KIND_COLOURS:
        mine = [s for s in signals if s.kind == kind]
        if mine:
            figure.add_trace(go.Bar(
                x=[s.block for s in mine], y=[s.ratio for s in mine], name=KIND_NAMES[kind],
                marker_color=KIND_COLOURS[kind],
                customdata=[[s.residual_norm, s.shortcut_norm] for s in mine],
                hovertemplate="%{x}: ‖F(x)‖ / ‖x‖ = %{y:.3f}<br>‖F(x)‖ = %{customdata[0]:.4g}, "
                              "‖x‖ = %{customdata[1]:.4g}<extra></extra>"))
    figure.add_hline(y=1, line_dash="dash", annotation_text="branch as large as the shortcut",
                     annotation_position="top left")
    figure.update_layout(
        title=_title("What each block's residual branch adds, against what its shortcut carries", pretrained),
        height=380, xaxis=dict(title="block (input on the left)", categoryorder="array", categoryarray=order,
                               tickangle=-60),
        yaxis=dict(title="‖F(x)‖ / ‖x‖", rangemode="tozero"), legend=dict(orientation="h", y=-0.45),
        margin=dict(l=10, r=10, t=50, b=10))
    return figure


def field_picture(heat: np.ndarray, box: Box, crop: np.ndarray | None = None, *, min_width: int = 448,
                  opacity: float = 0.6) -> np.ndarray:
    """The effective field over the crop, or alone on black, with the theoretical box drawn in white where it lies
    inside the image; enlarged by whole pixels to at least `min_width` wide.

    The colour saturates at the 99th percentile of the pixels the unit depends on: a gradient map is speckled, and
    scaled to its single highest pixel the rest of it would hardly show."""
    height, width = heat.shape
    top = float(np.percentile(heat[heat > 0], SATURATION_PERCENTILE)) if (heat > 0).any() else 0.0
    scaled = np.clip(heat / top, 0, 1) if top > 0 else np.zeros_like(heat, dtype=np.float64)
    coloured = heat_colours(scaled)
    if crop is None:
        picture = coloured * scaled[..., None]  # no gradient: black, not the ramp's dark blue
    else:
        picture = (1 - opacity * scaled[..., None]) * crop.astype(np.float32) + opacity * scaled[..., None] * coloured
    picture = np.clip(np.rint(picture), 0, 255).astype(np.uint8)
    factor = max(1, -(-min_width // width))
    picture = np.repeat(np.repeat(picture, factor, axis=0), factor, axis=1)
    _draw_box(picture, box, factor, height, width)
    return picture


def _draw_box(picture: np.ndarray, box: Box, factor: int, height: int, width: int) -> None:
    """White edges of `box` (input pixels), each drawn only if it lies inside the image."""
    inside = box.clipped(height, width)
    if inside.top > inside.bottom or inside.left > inside.right:
        return
    top, left = inside.top * factor, inside.left * factor
    bottom, right = (inside.bottom + 1) * factor - 1, (inside.right + 1) * factor - 1
    line = max(1, factor // 2)
    white = 255
    if box.top >= 0:
        picture[top:top + line, left:right + 1] = white
    if box.bottom < height:
        picture[bottom - line + 1:bottom + 1, left:right + 1] = white
    if box.left >= 0:
        picture[top:bottom + 1, left:left + line] = white
    if box.right < width:
        picture[top:bottom + 1, right - line + 1:right + 1] = white
