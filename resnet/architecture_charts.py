"""Plotly figures of the Architecture page: where a network's parameters and MACs sit, stage by stage."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots


def stage_figure(named_stages: Mapping[str, pd.DataFrame]) -> go.Figure:
    """Parameters and MACs per stage, side by side, one bar colour per network; each frame is a
    `table.stage_totals`, keyed by the network's name in the legend."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Parameters per stage", "MACs per stage"))
    for name, stages in named_stages.items():
        for column, measure in enumerate(("params", "macs"), start=1):
            figure.add_trace(go.Bar(x=list(stages.stage_name), y=list(stages[measure]), name=name,
                                    legendgroup=name, showlegend=column == 1), row=1, col=column)
    figure.update_layout(barmode="group", height=380, margin={"t": 40, "b": 10})
    return figure
