"""What a Predict session has already computed for its photos, kept across its reruns: the one cache of every
picture, figure and result the page and its panels show for a photo.

A click in a photo's panels reruns that photo's part (st.fragment), the settings rerun the whole page. Without this,
choosing another Grad-CAM class or feature-map layer decoded, cropped and classified every photo again and
recomputed every explanation. Entries are keyed by the photo's content
(a SHA-256 of its bytes) and what changes its answer (crop mode, precision, network); a rerun keeps only the entries of
the photos still on the page, so a session holds at most MAX_PHOTOS photos' worth.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable

import streamlit as st

from app.classifier import thin
from resnet import images

PREDICTIONS, EXPLANATIONS = "photo_cache_predictions", "photo_cache_explanations"
KEPT_PER_PHOTO = 12  # explanations kept per photo (its crop and bars, Grad-CAM classes, layers, panels), most recent


def classify(classifier, named: list[tuple[str, bytes]], *, crop_mode: str, precision: str) -> list:
    """classify_each's results (Prediction or ImageError) in `named`'s order; only photos this session has not
    classified yet with these settings go to the network, together, as one batch."""
    refused = [images.over_max_photos(name) for name, _ in named[images.MAX_PHOTOS:]]
    named = named[:images.MAX_PHOTOS]
    keys = [(hashlib.sha256(data).hexdigest(), name, crop_mode, precision, classifier.identity)
            for name, data in named]
    cached = st.session_state.get(PREDICTIONS, {})
    fresh = [i for i, key in enumerate(keys) if key not in cached]
    if fresh:
        start = time.perf_counter()
        results = classifier.classify_each([named[i] for i in fresh], crop_mode=crop_mode, precision=precision)
        if thin():  # the tier times its own forward pass; the visitor waited for decoding, the trip and the queue too
            waited = (time.perf_counter() - start) * 1000
            results = [dataclasses.replace(r, latency_ms=waited) if not isinstance(r, Exception) else r
                       for r in results]
        cached.update({keys[i]: result for i, result in zip(fresh, results, strict=True)})
    st.session_state[PREDICTIONS] = {key: cached[key] for key in keys}  # what left the page goes
    kept = set(keys)
    st.session_state[EXPLANATIONS] = {key: value for key, value in st.session_state.get(EXPLANATIONS, {}).items()
                                      if key[0] in kept}
    return [cached[key] for key in keys] + refused


def explanation(prediction, what: tuple, compute: Callable[[], object]):
    """`compute()` once per photo and `what` (e.g. ("grad-cam", class index)) in this session."""
    photo = next((key for key, value in st.session_state.get(PREDICTIONS, {}).items() if value is prediction), None)
    if photo is None:  # not a prediction of this page's photos: nothing to key it by
        return compute()
    store = st.session_state.setdefault(EXPLANATIONS, {})
    key = (photo, *what)
    if key not in store:
        for old in [k for k in store if k[0] == photo][:-(KEPT_PER_PHOTO - 1) or None]:
            del store[old]
        store[key] = compute()
    store[key] = store.pop(key)  # most recently used last
    return store[key]
