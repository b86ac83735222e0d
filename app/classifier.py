"""The live classifier: one per server and architecture, shared by every session, warmed when it is built.

app/main.py calls `get_classifier()` at start-up so that the first visitor of the Predict page does not wait for
the model to load, trace and warm up.
"""

import streamlit as st

from resnet.inference import Classifier


@st.cache_resource(show_spinner="Loading the network and warming it up…", max_entries=2)
def get_classifier(arch: str = "resnet50") -> Classifier:
    # Random weights are allowed here only because the page labels every result they give as UNTRAINED.
    classifier = Classifier.load(arch, "imagenet", allow_untrained=True)
    classifier.warm_up_grad_cam()
    return classifier
