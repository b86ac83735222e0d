"""Plotly figures of a gradient-lab run, drawn from its step records (any number so far: they grow with the run)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from resnet.training import StepRecord, records_table


def curves_frame(records: list[StepRecord]) -> pd.DataFrame:
    return pd.DataFrame([{"net": r.net, "step": r.step, "loss": r.loss, "accuracy": r.accuracy} for r in records],
                        columns=["net", "step", "loss", "accuracy"])


def curve_figure(records: list[StepRecord], measure: str) -> go.Figure:
    """Training loss or accuracy against step, one line per net."""
    figure = px.line(curves_frame(records), x="step", y=measure, color="net", markers=len(records) < 60,
                     title=f"Training {measure}")
    figure.update_layout(legend_title_text="", margin=dict(t=40, b=10))
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
    figure.update_layout(legend_title_text="", margin=dict(t=40, b=10), yaxis_title="‖∂loss/∂kernel‖ (log)",
                         xaxis_title="layer depth (1 = first conv)")
    return figure


def norm_heatmap(records: list[StepRecord], net: str) -> go.Figure:
    """log10 of every kernel's gradient norm, layer × step, for one net."""
    mine = [r for r in records if r.net == net]
    layers = [layer for layer, _ in mine[0].norms] if mine else []
    values = np.array([[norm for _, norm in r.norms] for r in mine]).T if mine else np.zeros((0, 0))
    figure = go.Figure(go.Heatmap(z=np.log10(np.maximum(values, 1e-30)), x=[r.step for r in mine], y=layers,
                                  colorscale="Viridis", colorbar=dict(title="log₁₀ norm")))
    figure.update_layout(title=f"{net}: gradient norm, layer × step", xaxis_title="step",
                         yaxis=dict(autorange="reversed", title="layer (input at the top)"), margin=dict(t=40, b=10))
    return figure
