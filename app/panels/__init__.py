"""Panels: one feature's controls and results, called from a page with a line or two (app/views/ stays short).

The heavy objects behind a panel are built once per server and network (st.cache_resource); a panel runs them on
`prediction.model_input` in the classifier's explanations lane, and keeps what it shows (results, figures, pictures)
in the session's photo cache (app/photo_cache.py), once per photo and choice. Nothing runs until a visitor switches
the panel on. On the Predict page each photo's panels run in one st.fragment.
"""

import sys

import streamlit as st


def photo_key(name: str, number: int, prediction) -> str:
    """A widget's key for one photo, on the Predict page and in its panels: a choice made for one photo is not
    carried over to the next one put in its place (nor is the browser left showing that photo's option labels)."""
    return f"{name}_{number}_{prediction.source}"


def session_nets() -> dict:
    """The nets this session's last gradient-lab run trained, by name (empty while none has finished)."""
    run = st.session_state.get("gradient_run")
    if run is None or run.running:
        return {}
    return run.trained or {}


def lab_net(classifier):
    """`classifier` when it is one of the session's trained lab nets (resnet.trained_classifier), else None. Asked
    without importing that module: a page served by the network tier never loads TensorFlow, and where the module was
    never loaded no classifier can be one."""
    module = sys.modules.get("resnet.trained_classifier")
    return classifier if module is not None and isinstance(classifier, module.TrainedClassifier) else None
