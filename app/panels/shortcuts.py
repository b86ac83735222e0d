"""The Predict page's signal through the shortcuts: per block, ‖F(x)‖ / ‖x‖ for the photo."""

import numpy as np
import streamlit as st

from app.panels import photo_key
from resnet import images
from resnet.residual_charts import shortcut_figure
from resnet.shortcuts import ShortcutProbe


@st.cache_resource(show_spinner="Preparing the shortcut probe…", max_entries=2)
def shortcut_probe(_classifier, arch: str, network: int) -> ShortcutProbe:
    """One per network (`network` is id(model), kept unique by the entry holding the model)."""
    return ShortcutProbe(_classifier.model, arch)


@st.cache_data(show_spinner="Measuring every block…", max_entries=64)
def signals(_classifier, _probe, network: int, crop: np.ndarray, preprocessing: str) -> tuple:
    with _classifier.explaining():
        return _probe(images.preprocess(crop, preprocessing))


def shortcuts_panel(classifier, prediction, number: int) -> None:
    if not st.toggle("Follow the signal through the shortcuts", key=photo_key("shortcuts", number, prediction)):
        return
    st.markdown("Each block outputs F(x) + x: its residual branch F adds to what its shortcut carries (x, or its "
                "1×1 projection where the block down-samples). The bars compare their sizes for this photo, "
                "‖F(x)‖ / ‖x‖ over the block's whole map.")
    measured = signals(classifier, shortcut_probe(classifier, classifier.arch_name, id(classifier.model)),
                       id(classifier.model), prediction.crop, prediction.preprocessing)
    st.plotly_chart(shortcut_figure(measured, pretrained=classifier.pretrained), key=f"shortcuts_{number}")
    smaller = sum(s.ratio < 1 for s in measured)
    st.caption(f"In {smaller} of {len(measured)} blocks the residual branch adds less than the shortcut carries "
               f"(median ratio {np.median([s.ratio for s in measured]):.2f}).")
