"""The Predict page's signal through the shortcuts: per block, ‖F(x)‖ / ‖x‖ for the photo (in a lecture hall, measured
by the tier; in-process by resnet.shortcuts, TensorFlow, imported then)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from app import photo_cache
from app.classifier import thin
from app.panels import lab_net, photo_key
from resnet.residual_charts import shortcut_figure

if TYPE_CHECKING:
    from resnet.shortcuts import ShortcutProbe


@st.cache_resource(show_spinner="Preparing the shortcut probe…", max_entries=2)
def shortcut_probe(_classifier, arch: str, network: int) -> ShortcutProbe:
    """One per network (`network` is id(model), kept unique by the entry holding the model)."""
    from resnet.shortcuts import ShortcutProbe  # noqa: PLC0415

    return ShortcutProbe(_classifier.model, arch)


def signals_of(classifier, prediction):
    if thin():
        return classifier.shortcuts(prediction)
    trained = lab_net(classifier)
    probe = (trained.shortcut_probe() if trained else
             shortcut_probe(classifier, classifier.arch_name, id(classifier.model)))
    with classifier.explaining():
        return probe(prediction.model_input)


def shortcuts_panel(classifier, prediction, number: int) -> None:
    if not st.toggle("Follow the signal through the shortcuts", key=photo_key("shortcuts", number, prediction)):
        return
    st.markdown("Each block outputs F(x) + x: its residual branch F adds to what its shortcut carries (x, or its "
                "1×1 projection where the block down-samples). The bars compare their sizes for this photo, "
                "‖F(x)‖ / ‖x‖ over the block's whole map.")
    trained = lab_net(classifier)
    if trained and (trained.net.plain or trained.residual is None):
        st.info(f"{trained.net.name} is a plain net: it has no shortcuts to follow. Choose the residual net the lab "
                "trained beside it.")
        return

    def measured():
        signals = signals_of(classifier, prediction)
        smaller = sum(s.ratio < 1 for s in signals)
        return shortcut_figure(signals, pretrained=classifier.pretrained), (
            f"In {smaller} of {len(signals)} blocks the residual branch adds less than the shortcut carries "
            f"(median ratio {np.median([s.ratio for s in signals]):.2f}).")

    with st.spinner("Measuring every block…"):
        figure, caption = photo_cache.explanation(prediction, ("shortcuts",), measured)
    st.plotly_chart(figure, key=f"shortcuts_{number}")
    st.caption(caption)
