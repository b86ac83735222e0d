"""The live classifier: one per server and architecture, shared by every session.

Where it computes is chosen here, once per server, by `RESNET_SERVE_URL`:

- unset (`make run`, a laptop, a class of 30): in this process, built and warmed when the server starts
  (app/serve.py calls `warm_in_background()`, and app/main.py again for servers started with plain `streamlit run`),
  so the Predict page's `get_classifier()` returns it at once (or waits for it to finish);
- set (a lecture hall, deploy/): the network tier at that address answers (`resnet.serving.client.RemoteClassifier`,
  one HTTP client per server), and this process never imports TensorFlow: nothing here or in the pages' rooms loads
  it unless the in-process classifier is asked for.
"""

from __future__ import annotations

import os
import threading

import streamlit as st

from app import notices

SERVE_URL = "RESNET_SERVE_URL"

_warming: threading.Thread | None = None
_warming_lock = threading.Lock()


def serve_url() -> str | None:
    """The network tier's address, when this server is one of a lecture hall's thin pages; None in-process."""
    return os.environ.get(SERVE_URL, "").strip() or None


def thin() -> bool:
    """True when the networks run in the tier and this process must not load them (nor TensorFlow)."""
    return serve_url() is not None


@st.cache_resource(show_spinner="Loading the network and warming it up…", max_entries=2)
def get_classifier(arch: str = "resnet50"):
    """The shared classifier: a `resnet.inference.Classifier`, or in a lecture hall the tier's `RemoteClassifier`,
    which answers the same calls over HTTP (a visitor sees one line when the tier is down, never a traceback)."""
    url = serve_url()
    if url is not None:
        from resnet.serving.client import RemoteClassifier  # noqa: PLC0415 -- no TensorFlow in it

        # The tier serves the network it was started with (`python -m resnet serve --arch`); the page offers that
        # one. Asking /v1/health here, a tier that is down raises, is not cached, and is asked again next run.
        return RemoteClassifier(url)
    from resnet.inference import Classifier  # noqa: PLC0415 -- TensorFlow: only when this process computes

    # Random weights are allowed here only because the page labels every result they give as UNTRAINED. fp32 is
    # the classifier's own precision; bf16 is asked for per request (the page's switch), where the hardware has it.
    # Nothing else is warmed: the top-5's Grad-CAMs come with each answer (resnet.explaining), and the gradient is
    # traced only for the first visitor who asks for another layer.
    # "throughput": a class's uploads computed side by side, each on a core of its own (OpenVINO's streams). One
    # photo alone waits ~2× as long (136 against 70 ms on 2 cores), but two at once are no slower, and a served upload
    # costs the server about a tenth less CPU: two threads on one photo wait on each other at every layer while the
    # pages share the cores (resnet.engines, tests/load/README.md).
    classifier = Classifier.load(arch, "imagenet", allow_untrained=True, precision="fp32", background=True,
                                 hint="throughput")
    if not classifier.pretrained:  # the page says so in plain words; the operator reads where to put them
        notices.for_the_operator(f"no ImageNet weights for {arch}: the Predict page serves random weights",
                                 f"{classifier.weights_problem}; then restart the server")
    return classifier


@st.cache_resource(max_entries=2)
def tier_layers(_classifier, arch: str) -> dict:
    """The tier's names for its network (layers with feature maps, field layers with their map sizes, residual
    blocks), asked once per server: what the panels offer where in-process they would read the network."""
    return _classifier.layers()


def tier_errors() -> tuple[type[BaseException], ...]:
    """What the tier's client raises when the tier does not answer (down, timed out, overloaded), for a page to say
    in one line; nothing in-process, where `except tier_errors()` then catches nothing."""
    if not thin():
        return ()
    from resnet.serving.client import ServeUnavailable  # noqa: PLC0415

    return (ServeUnavailable,)


def warm_in_background(arch: str = "resnet50") -> threading.Thread | None:
    """Build the default classifier in a daemon thread, once per server process; in a lecture hall there is nothing
    to build here (the tier holds the networks), and nothing is started.

    Streamlit keys the cache on the arguments as passed, so this calls get_classifier(arch) exactly as the page does.
    """
    global _warming
    if thin():
        return None
    with _warming_lock:
        if _warming is None:
            _warming = threading.Thread(target=get_classifier, args=(arch,), daemon=True, name="warm-classifier")
            _warming.start()
        return _warming
