"""What the pages share across sessions, made once per server: tables and pictures of the networks, and the gradient
lab's limits and the registry of its runs.

Tables and drawings are also kept on disk (the explorer's cache, resnet/paths.py), where a lecture hall's thin pages
(RESNET_SERVE_URL: no network in this process) read them: counted once by `python -m resnet tables` (the image build)
or by any in-process server. A thin page never builds a network; what is not on disk it says it cannot show.

The networks themselves are not kept. A table or a diagram is a few hundred KB where a ResNet-152 with its weights is
240 MB, and a class opening network after network on the Architecture page would otherwise hold them all. Builds run
one at a time, so thirty students opening thirty different networks at once never hold thirty of them either.
"""

import gc
import threading

import pandas as pd
import streamlit as st

from app.classifier import thin
from resnet import diagrams, table
from resnet.architectures import ModelSpec
from resnet.diagrams import PlotOptions, View
from resnet.errors import UserError
from resnet.limits import Limits, RunRegistry

_ONE_BUILD_AT_A_TIME = threading.Lock()
IN_PROCESS_ONLY = ("this lecture-hall server runs its networks elsewhere and shows the tables and drawings counted "
                   "ahead of time: each network at its own input size and class count, and its plain twin")


class NeedsTheNetwork(UserError):
    """What a thin page cannot show: it would have to build a network, and this process holds none."""


def build(spec: ModelSpec):
    """A network of the table with random weights (for shapes, counts and diagrams): do not keep it."""
    if thin():
        raise NeedsTheNetwork(f"Not shown here: {IN_PROCESS_ONLY}.")
    with _ONE_BUILD_AT_A_TIME:
        return spec.build()


def _free_networks() -> None:
    # A keras model's layers and nodes refer to each other, so its weights go at a garbage collection, not when the
    # last reference does; collect now (~0.2 s) instead of holding hundreds of MB until Python gets round to it.
    gc.collect()


@st.cache_data(show_spinner="Counting parameters and MACs…", max_entries=32)
def layer_table(spec: ModelSpec) -> pd.DataFrame:
    built = []  # a table on disk (< 5 ms) should not pay for a collection

    def build_and_note(spec: ModelSpec):
        built.append(spec)
        return build(spec)

    rows = table.cached_layer_table(spec, build=build_and_note)
    if built:
        _free_networks()
    return rows


@st.cache_data(show_spinner="Drawing…", max_entries=64)
def picture(spec: ModelSpec, view: View, options: PlotOptions, fmt: str = "svg") -> bytes:
    built = []  # render builds only when its disk cache misses; a hit (< 1 ms) should not pay for a collection

    def build_and_note(spec: ModelSpec):
        built.append(spec)
        return build(spec)

    image = diagrams.render(spec, view, options, fmt=fmt, build=build_and_note)
    if built:
        _free_networks()
    return image


@st.cache_resource
def limits() -> Limits:
    """This server's run and upload limits, read from the environment once."""
    return Limits.from_environment()


@st.cache_resource
def run_registry() -> RunRegistry:
    """One per server: every session's runs count against the same cap."""
    return RunRegistry(limits().max_concurrent_runs)
