"""Plotly figures of the nets a lab run trained, judged on their held-out images: the confusion matrix, accuracy
per class, lesions, the loss along the line and on the 2-D slice, and the sanity check's rank correlations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from resnet.heldout import HeldOutResult
from resnet.trained import TrainedNet


def _tidy(figure: go.Figure, title: str) -> go.Figure:
    figure.update_layout(title=title, legend_title_text="", margin=dict(t=40, b=10))
    return figure


def confusion_figure(result: HeldOutResult, net: str) -> go.Figure:
    """Held-out images by true class (rows) and answered class (columns), each cell's count written in it."""
    names = list(result.class_names)
    figure = go.Figure(go.Heatmap(z=result.confusion, x=names, y=names, colorscale="Blues", showscale=False,
                                  text=result.confusion, texttemplate="%{text}",
                                  hovertemplate="true %{y}<br>answered %{x}<br>%{z} image(s)<extra></extra>"))
    figure.update_layout(xaxis=dict(title="answered", type="category"),
                         yaxis=dict(title="true class", type="category", autorange="reversed"))
    return _tidy(figure, f"{net}: accuracy {result.accuracy:.0%} on {int(result.confusion.sum())} held-out images")


def class_accuracy_figure(nets: dict[str, TrainedNet]) -> go.Figure:
    frame = pd.DataFrame([{"net": name, "class": cls, "accuracy": accuracy}
                          for name, net in nets.items()
                          for cls, accuracy in zip(net.result.class_names, net.result.class_accuracy)])
    figure = px.bar(frame, x="class", y="accuracy", color="net", barmode="group", range_y=[0, 1])
    figure.update_xaxes(type="category")
    return _tidy(figure, "Held-out accuracy per class")


def lesion_figure(nets: dict[str, TrainedNet]) -> go.Figure:
    """Held-out accuracy with each block removed, one line per net, and each net's intact accuracy (dotted)."""
    figure = go.Figure()
    for index, (name, net) in enumerate(nets.items()):
        colour = px.colors.qualitative.Plotly[index % 10]
        figure.add_trace(go.Scatter(x=[lesion.block for lesion in net.lesions or ()],
                                    y=[lesion.accuracy for lesion in net.lesions or ()], mode="lines+markers",
                                    name=f"{name} without the block", line=dict(color=colour)))
        figure.add_hline(y=net.result.accuracy, line=dict(color=colour, dash="dot"),
                         annotation_text=f"{name} intact", annotation_position="top left")
    figure.update_layout(xaxis=dict(title="block removed", type="category"),
                         yaxis=dict(title="held-out accuracy", range=[0, 1]))
    return _tidy(figure, "Take one block out (Veit et al. 2016)")


def line_figure(nets: dict[str, TrainedNet]) -> go.Figure:
    frame = pd.DataFrame([{"net": name, "alpha": point.alpha, "loss": point.loss}
                          for name, net in nets.items() for point in net.line or ()])
    # log y: past the initial weights the loss can be a thousand times the trained one, and would flatten the rest
    figure = px.line(frame, x="alpha", y="loss", color="net", markers=True, log_y=True)
    for alpha, text in ((0, "initial"), (1, "trained")):
        figure.add_vline(x=alpha, line=dict(color="grey", dash="dot"), annotation_text=text)
    figure.update_layout(xaxis_title="α  (weights = initial + α · (trained − initial))",
                         yaxis_title="held-out loss (log)")
    return _tidy(figure, "From the initial to the trained weights (Goodfellow et al. 2015)")


def slice_figure(net: TrainedNet) -> go.Figure:
    grid = net.slice
    figure = go.Figure(go.Contour(z=np.log10(np.maximum(grid.loss, 1e-12)), x=grid.alphas, y=grid.betas,
                                  colorscale="Viridis", colorbar=dict(title="log₁₀ loss"),
                                  contours=dict(showlabels=True)))
    figure.add_trace(go.Scatter(x=[0], y=[0], mode="markers", marker=dict(color="red", size=10), name="trained"))
    figure.update_layout(xaxis_title="first direction", yaxis_title="second direction", showlegend=False)
    return _tidy(figure, f"{net.name}: held-out loss around the trained weights")


def sanity_figure(nets: dict[str, TrainedNet]) -> go.Figure:
    frame = pd.DataFrame([{"net": name, "randomised down to": step.randomised, "step": i,
                           "rank correlation": step.rank_correlation}
                          for name, net in nets.items() for i, step in enumerate(net.sanity or ())])
    figure = px.line(frame, x="randomised down to", y="rank correlation", color="net", markers=True,
                     range_y=[-1, 1.05])
    figure.update_xaxes(type="category")
    figure.update_layout(yaxis_title="Spearman ρ with the trained map")
    return _tidy(figure, "Randomise from the top down: does the heat map change? (Adebayo et al. 2018)")
