"""The live classifier: one per server and architecture, shared by every session, warmed when it is built.

app/serve.py (`make run`) calls `warm_in_background()` as the server starts, and app/main.py again for servers started
with plain `streamlit run`, so that the network loads, traces and warms up before the first visitor asks; the
Predict page's `get_classifier()` then returns it at once (or waits for it to finish).
"""

import threading

import streamlit as st

from app import notices
from resnet.inference import Classifier

_warming: threading.Thread | None = None
_warming_lock = threading.Lock()


@st.cache_resource(show_spinner="Loading the network and warming it up…", max_entries=2)
def get_classifier(arch: str = "resnet50") -> Classifier:
    # Random weights are allowed here only because the page labels every result they give as UNTRAINED. fp32 is
    # the classifier's own precision; bf16 is asked for per request (the page's switch), where the hardware has it.
    # Nothing else is warmed: the top-5's Grad-CAMs come with each answer (resnet.explaining), and the gradient is
    # traced only for the first visitor who asks for another layer.
    classifier = Classifier.load(arch, "imagenet", allow_untrained=True, precision="fp32", background=True)
    if not classifier.pretrained:  # the page says so in plain words; the operator reads where to put them
        notices.for_the_operator(f"no ImageNet weights for {arch}: the Predict page serves random weights",
                                 f"{classifier.weights_problem}; then restart the server")
    return classifier


def warm_in_background(arch: str = "resnet50") -> threading.Thread:
    """Build the default classifier in a daemon thread, once per server process.

    Streamlit keys the cache on the arguments as passed, so this calls get_classifier(arch) exactly as the page does.
    """
    global _warming
    with _warming_lock:
        if _warming is None:
            _warming = threading.Thread(target=get_classifier, args=(arch,), daemon=True, name="warm-classifier")
            _warming.start()
        return _warming
