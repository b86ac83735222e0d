"""The Gradient lab's nets once trained: judged on the held-out images they never saw, and opened up (confusion
matrix whose cells show their images with the net's Grad-CAM, lesions, the road the weights took, the 2-D slice,
the sanity check). Everything here was measured in the run's worker; the page only draws it, except the CAMs of
the images a visitor opens, one traced function per net."""

import numpy as np
import streamlit as st

from resnet.pictures import overlay
from resnet.trained import TrainedNet
from resnet.trained_charts import (class_accuracy_figure, confusion_figure, lesion_figure, line_figure,
                                   sanity_figure, slice_figure)

MAX_CELL_IMAGES = 12  # images of one confusion cell shown at once, each with its CAM
SHOWN_SIDE = 112  # the lab's 32-pixel images, drawn larger

LESIONS = (
    "Each point is the net with one block removed, judged on the held-out images. In the residual net a removed "
    "block passes on its shortcut alone (its residual branch zero, as its last BatchNorm with γ = β = 0): Veit et "
    "al. (2016) found a trained ResNet barely notices, except where it down-samples. The plain twin has no shortcut "
    "to fall back on: removing the same position's layers (the same BatchNorm set to zero) cuts the signal, so "
    "nothing of the image reaches the layers after it and the twin answers one class for every image.")
LINE = (
    "The held-out loss on the straight line from the initial weights (α = 0) to the trained ones (α = 1), and half "
    "as far again beyond both ends (Goodfellow, Vinyals & Saxe 2015). A smooth descent along the line says the two "
    "ends lie in one basin; a bump says training went around something the straight line goes through.")
SLICE = (
    "The held-out loss around the trained weights along two random directions, each filter scaled to the norm of "
    "the trained filter it moves (Li et al. 2018; BatchNorm and biases stay put), from −1 to 1 filter norm. After a "
    "short run on a small grid it shows whether the net sits in a wide or a narrow dip *in these two directions*, "
    "and how residual and plain nets differ there; it cannot show the whole landscape, nor where a longer run would "
    "end, and Li et al.'s sharp chaotic plain-net pictures needed deep nets trained to convergence.")
SANITY = (
    "Adebayo et al. (2018): replace the trained weights by freshly initialised ones, the classifier first, then each "
    "block from the top down. An honest explanation changes as the weights it explains are destroyed (its rank "
    "correlation with the trained map falls toward 0); one that stays put shows the image, not what the net learned.")


def picture(net: TrainedNet, index: int) -> np.ndarray:
    return np.clip(np.rint(net.heldout.images[index] * 255), 0, 255).astype(np.uint8)


def show_cell(nets: dict[str, TrainedNet]) -> None:
    """A confusion cell opened: its images, each with the chosen net's Grad-CAM of the class it answered."""
    left, middle, right = st.columns(3)
    name = left.selectbox("Net", list(nets), key="cell_net")
    net = nets[name]
    classes = list(net.result.class_names)
    true = middle.selectbox("True class", range(len(classes)), format_func=classes.__getitem__, key="cell_true")
    answered = right.selectbox("Answered as", range(len(classes)), format_func=classes.__getitem__,
                               key="cell_answered")
    members = net.result.cell(net.heldout.labels, true, answered)
    # The class names are the visitor's own (an upload's folders): never in markdown, only in widgets and figures.
    st.caption(f"{len(members)} held-out image(s) in this cell of {name}'s matrix"
               + (f"; the first {MAX_CELL_IMAGES} shown" if len(members) > MAX_CELL_IMAGES else "")
               + ". Over each, Grad-CAM of the class it answered.")
    if len(members):
        shown = members[:MAX_CELL_IMAGES]
        st.image([overlay(picture(net, i), net.cam(int(i))) for i in shown], width=SHOWN_SIDE,
                 caption=[f"image {i}" for i in shown])


def show_sanity(nets: dict[str, TrainedNet]) -> None:
    st.plotly_chart(sanity_figure(nets), key="sanity_chart")
    st.caption(SANITY)
    for name, net in nets.items():
        if not net.sanity:
            continue
        st.markdown(f"**{name}**, held-out image {net.sanity_image}: its Grad-CAM as more of the net is randomised")
        st.image([overlay(picture(net, net.sanity_image), step.cam) for step in net.sanity], width=72,
                 caption=[f"{step.randomised} ρ={step.rank_correlation:.2f}" for step in net.sanity])


def trained_nets_panel(nets: dict[str, TrainedNet]) -> None:
    st.subheader("What the nets learned: the held-out images")
    first = next(iter(nets.values()))
    if not len(first.heldout.labels):
        st.warning("Nothing could be held out: every class has a single image, and it is needed for training. "
                   "Give each class two images or more to see what the nets learned.")
        return
    st.caption(f"{sum(first.heldout.counts)} images set aside before training and never trained on, "
               f"{min(first.heldout.counts)} to {max(first.heldout.counts)} per class. The trained nets stay for "
               "this session, until its next run: on the Predict page, choose one as the Network to give it photos "
               "of your own and open it up (heat maps, lesions, receptive fields, shortcuts).")
    for column, (name, net) in zip(st.columns(len(nets)), nets.items()):
        column.metric(f"{name}: held-out accuracy", f"{net.result.accuracy:.1%}",
                      help=f"held-out loss {net.result.loss:.4f} after {net.steps} step(s)")
        column.plotly_chart(confusion_figure(net.result, name), key=f"confusion_{name}")
    st.plotly_chart(class_accuracy_figure(nets), key="class_accuracy_chart")
    with st.expander("Open a cell of a confusion matrix", expanded=False):
        show_cell(nets)
    if any(net.lesions for net in nets.values()):
        st.plotly_chart(lesion_figure(nets), key="lesion_chart")
        st.caption(LESIONS)
    if any(net.line for net in nets.values()):
        st.plotly_chart(line_figure(nets), key="line_chart")
        st.caption(LINE)
    sliced = {name: net for name, net in nets.items() if net.slice is not None}
    if sliced:
        for column, (name, net) in zip(st.columns(len(sliced)), sliced.items()):
            column.plotly_chart(slice_figure(net), key=f"slice_{name}")
        st.caption(SLICE)
    if any(net.sanity for net in nets.values()):
        show_sanity(nets)
