"""Plotly figures of a gradient-lab run, drawn from its step records (any number so far: they grow with the run)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from resnet.training import StepRecord, records_table


def step_axis(steps) -> dict:
    """An x axis of training steps: whole numbers only (plotly would label 1.5 between steps 1 and 2), about eight
    of them, 1/2/5 × a power of ten apart."""
    span = max(steps, default=1) - min(steps, default=0)
    rough = max(1.0, span / 8)
    power = 10 ** math.floor(math.log10(rough))
    spacing = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    return dict(tickmode="linear", tick0=0, dtick=int(spacing), title="step")


def log_axis(values) -> dict:
    """A log y axis labelled with plain numbers: 1, 2, 5 × each power of ten over a few decades, only the powers of
    ten (as 10ⁿ) over more. Plotly's own labels within a decade are bare digits (…, 8, 9, 1, 2, …), which read as
    values in the wrong order."""
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    if not positive:
        return dict(type="log")
    low, high = math.floor(math.log10(min(positive))), math.ceil(math.log10(max(positive)))
    if high - low > 3:
        return dict(type="log", dtick=1, exponentformat="power")
    ticks = [m * 10.0 ** e for e in range(low, high + 1) for m in (1, 2, 5)]
    return dict(type="log", tickmode="array", tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])


def curves_frame(records: list[StepRecord]) -> pd.DataFrame:
    return pd.DataFrame([{"net": r.net, "step": r.step, "loss": r.loss, "accuracy": r.accuracy} for r in records],
                        columns=["net", "step", "loss", "accuracy"])


def curve_figure(records: list[StepRecord], measure: str) -> go.Figure:
    """Training loss or accuracy against step, one line per net."""
    figure = px.line(curves_frame(records), x="step", y=measure, color="net", markers=len(records) < 60,
                     title=f"Training {measure}")
    figure.update_layout(legend_title_text="", margin=dict(t=40, b=10), xaxis=step_axis([r.step for r in records]))
    return figure


def default_steps(records: list[StepRecord]) -> list[int]:
    """The steps worth comparing when the user picked none: the first and the latest."""
    steps = sorted({r.step for r in records})
    return sorted({steps[0], steps[-1]}) if steps else []


def norms_by_depth_figure(records: list[StepRecord], steps: list[int] | None = None) -> go.Figure:
    """Gradient norm of every kernel against its depth (log y), one line per net and chosen step."""
    steps = steps or default_steps(records)
    frame = pd.DataFrame(records_table([r for r in records if r.step in steps]),
                         columns=["net", "step", "depth", "layer", "norm"])
    frame["net, step"] = frame["net"] + ", step " + frame["step"].astype(str)
    figure = px.line(frame, x="depth", y="norm", color="net, step", log_y=True, hover_data=["layer"],
                     markers=True, title="Gradient norm per layer (input on the left)")
    figure.update_layout(legend_title_text="", margin=dict(t=40, b=10), xaxis_title="layer depth (1 = first conv)",
                         yaxis=dict(log_axis(frame["norm"]), title="‖∂loss/∂kernel‖ (log)"))
    return figure


def norm_heatmap(records: list[StepRecord], net: str) -> go.Figure:
    """log10 of every kernel's gradient norm, layer × step, for one net."""
    mine = [r for r in records if r.net == net]
    layers = [layer for layer, _ in mine[0].norms] if mine else []
    values = np.array([[norm for _, norm in r.norms] for r in mine]).T if mine else np.zeros((0, 0))
    figure = go.Figure(go.Heatmap(z=np.log10(np.maximum(values, 1e-30)), x=[r.step for r in mine], y=layers,
                                  colorscale="Viridis", colorbar=dict(title="log₁₀ norm")))
    figure.update_layout(title=f"{net}: gradient norm, layer × step", xaxis=step_axis([r.step for r in mine]),
                         yaxis=dict(autorange="reversed", title="layer (input at the top)"), margin=dict(t=40, b=10))
    return figure
