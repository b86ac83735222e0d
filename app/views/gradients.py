"""The gradient lab: train a residual net and its plain twin side by side and watch every layer's gradient."""

import json
import uuid

import pandas as pd
import streamlit as st

import resnet
from resnet.datasets import cifar10_cached
from resnet.errors import UserError
from resnet.gradient_charts import curve_figure, norm_heatmap, norms_by_depth_figure
from resnet.limits import Limits, RunRegistry
from resnet.training import (INITIALIZERS, LAB_IMAGE_SIZES, OPTIMIZERS, BackgroundRun, RunConfig, records_table,
                             run_document)

DATA_SOURCES = {"offline": "generated shapes (offline)", "noise": "random noise (the probe batch)",
                "cifar10": "CIFAR-10 (if cached)", "folder": "my folder of images"}


@st.cache_resource
def limits() -> Limits:
    return Limits.from_environment()


@st.cache_resource
def run_registry() -> RunRegistry:
    """One per server: every session's runs count against the same cap."""
    return RunRegistry(limits().max_concurrent_runs)


def current_run() -> BackgroundRun | None:
    return st.session_state.get("gradient_run")


def stop_run():
    if current_run() is not None:
        current_run().stop()


st.title("Gradient lab")
st.markdown(
    "Train a residual network and its **plain twin** (the same layers without shortcuts) on the same batches, "
    "and watch the gradient that reaches every layer. With BatchNorm and no shortcuts, gradients **grow toward "
    "the input**, often a thousand times larger at the first convolution than at the last (the mean-field result "
    "for BatchNorm networks, Yang et al., ICLR 2019). Without BatchNorm, a deep plain net's gradients **vanish** "
    "instead, so its early layers barely learn; with shortcuts, the norms stay within a small factor from input "
    "to output, and the deep residual net trains while the deep plain one lags (He et al., 2016).")

def chosen_config() -> RunConfig:
    """The settings as the widgets hold them now; read in the Start callback, after this click's widget changes."""
    state = st.session_state
    return RunConfig(arch=state.arch, variants=tuple(v for v in ("residual", "plain") if state[v]),
                     batch_norm=state.batch_norm, initializer=state.initializer, seed=int(state.seed),
                     batch_size=int(state.batch_size), optimizer=state.optimizer,
                     learning_rate=float(state.learning_rate), steps=int(state.steps),
                     data=state.folder if state.data == "folder" else state.data,
                     image_size=LAB_IMAGE_SIZES[state.arch])


def start_run():
    """Start in the button's callback, before the page is drawn, so Start and Stop are drawn in the new state."""
    session_key = st.session_state.setdefault("gradient_session", uuid.uuid4().hex)
    try:
        st.session_state.gradient_run = BackgroundRun(chosen_config(), run_registry(), session_key, limits())
    except UserError as refused:
        st.session_state.gradient_refused = str(refused)


bounds = limits()
running = current_run() is not None and current_run().running
with st.expander("Run settings", expanded=current_run() is None):
    left, middle, right = st.columns(3)
    arch = left.selectbox("Network", list(LAB_IMAGE_SIZES), index=list(LAB_IMAGE_SIZES).index("resnet20"),
                          format_func=lambda n: f"{resnet.ARCHITECTURES[n].title} ({LAB_IMAGE_SIZES[n]}×"
                                                f"{LAB_IMAGE_SIZES[n]})", key="arch")
    left.checkbox("residual net", value=True, key="residual")
    left.checkbox("plain twin", value=True, key="plain")
    left.toggle("BatchNorm", value=True, key="batch_norm")
    own_init = resnet.ARCHITECTURES[arch].style.kernel_initializer
    middle.selectbox("Initialiser", INITIALIZERS, index=INITIALIZERS.index(own_init) if own_init in INITIALIZERS
                     else 0, key="initializer")
    middle.selectbox("Optimiser", OPTIMIZERS, index=OPTIMIZERS.index("momentum"), key="optimizer")
    middle.number_input("Learning rate", min_value=1e-5, max_value=1.0, value=0.02, step=0.005, format="%.4f",
                        key="learning_rate")
    middle.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, key="seed")
    right.number_input(f"Steps (0 = norms at initialisation; ≤ {bounds.max_steps})", min_value=0,
                       max_value=bounds.max_steps, value=min(60, bounds.max_steps), key="steps")
    right.select_slider("Batch size", [b for b in (4, 8, 16, 32, 64, 128) if b <= bounds.max_batch],
                        value=min(32, bounds.max_batch), key="batch_size")
    source = right.radio("Data", list(DATA_SOURCES), format_func=DATA_SOURCES.get, key="data")
    right.text_input("Folder (one sub-folder of images per class)", key="folder", disabled=source != "folder")
    if source == "cifar10" and not cifar10_cached():
        right.caption("CIFAR-10 is not cached on this server, and it cannot be downloaded here.")
    st.caption(f"This server allows ≤ {bounds.max_steps} steps, batch ≤ {bounds.max_batch}, "
               f"{bounds.max_run_seconds:.0f} s per run and {bounds.max_concurrent_runs} runs at a time.")

start_column, stop_column, _ = st.columns([1, 1, 6])
start_column.button("Start", type="primary", disabled=running, on_click=start_run, key="start")
stop_column.button("Stop", disabled=not running, on_click=stop_run, key="stop")
if refusal := st.session_state.pop("gradient_refused", None):
    st.error(refusal)


@st.fragment(run_every=2.0 if running else None)
def show_run(polling: bool):
    background = current_run()
    if background is None:
        st.info("Pick the settings and press Start.")
        return
    if polling and not background.running:
        st.rerun()  # the run ended: one full rerun re-enables Start and stops this polling
    records = list(background.records)
    config = background.config
    done = max((r.step for r in records), default=0)
    names = [config.net_name(v) for v in config.variants]
    st.caption(f"This run: {' vs '.join(names)}, BatchNorm {'on' if config.batch_norm else 'off'}, "
               f"{config.initializer}, {config.optimizer} lr {config.learning_rate:g}, batch {config.batch_size}, "
               f"seed {config.seed}, data {config.data}.")
    if config.steps:
        st.progress(done / config.steps, text=f"step {done} of {config.steps}")
    if background.error is not None:
        st.error(str(background.error) if isinstance(background.error, UserError) else
                 f"the run failed: {background.error!r}")
    elif background.running and not records:
        st.info("Building the networks and compiling their train steps…")
    elif background.stopped == "asked":
        st.warning(f"Stopped at your request after {done} step(s); the charts keep what was done.")
    elif background.stopped == "time limit":
        st.warning(f"Stopped at this server's time limit of {bounds.max_run_seconds:.0f} s after {done} step(s).")
    if not records:
        return
    if config.steps:
        loss_column, accuracy_column = st.columns(2)
        loss_column.plotly_chart(curve_figure(records, "loss"), key="loss_chart")
        accuracy_column.plotly_chart(curve_figure(records, "accuracy"), key="accuracy_chart")
    chosen = st.multiselect("Steps for the per-layer chart (none: first and latest)",
                            list(range(1, config.steps + 1)) or [0], key=f"chosen_steps_{id(background)}")
    st.plotly_chart(norms_by_depth_figure(records, chosen), key="depth_chart")
    if config.steps:
        for column, name in zip(st.columns(len(names)), names):
            column.plotly_chart(norm_heatmap(records, name), key=f"heatmap_{name}")
    if not background.running:
        csv_column, json_column, _ = st.columns([1, 1, 4])
        csv_column.download_button("Download CSV", pd.DataFrame(records_table(records)).to_csv(index=False),
                                   file_name=f"gradients_{config.arch}.csv", mime="text/csv")
        json_column.download_button("Download JSON", json.dumps(run_document(config, records, background.stopped)),
                                    file_name=f"gradients_{config.arch}.json", mime="application/json")


show_run(running)
