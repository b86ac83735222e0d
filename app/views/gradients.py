"""The gradient lab: train a residual net and its plain twin side by side and watch every layer's gradient."""

import json
import uuid
from functools import partial

import pandas as pd
import streamlit as st
from streamlit.typing import UploadedFile

import resnet
from resnet import images
from app import notices
from app.panels.trained_nets import trained_nets_panel
from app.resources import limits, run_registry
from resnet.datasets import (NAMED_SOURCES, cifar10_cached, data_root, open_named_data, open_server_folder,
                             server_folders)
from resnet.errors import RunRefused, UserError
from resnet.gradient_charts import curve_figure, norm_heatmap, norms_by_depth_figure
from resnet.training import (INITIALIZERS, LAB_IMAGE_SIZES, OPTIMIZERS, VARIANTS, BackgroundRun, RunConfig,
                             records_table, run_document)
from resnet.uploads import open_upload

HOLDOUT_SHARES = (0.1, 0.2, 0.25, 0.3, 0.4, 0.5)
LINE_POINTS = 21  # α from −0.5 to 1.5 in steps of 0.1: both ends are points
DATA_SOURCES = {"offline": "generated shapes (offline)", "noise": "random noise (the probe batch)",
                "cifar10": "CIFAR-10 (if cached)", "upload": "my own images (upload a folder or a .zip)",
                "server": "a data set on this server"}


# ---- helpers ----------------------------------------------------------------------------------------------------

def current_run() -> BackgroundRun | None:
    return st.session_state.get("gradient_run")


def stop_run():
    if current_run() is not None:
        current_run().stop()


def chosen(key: str, options):
    """A choice widget's value as this click left it. A callback runs before the widgets check what the browser sent
    against their options, so a hand-made message could put anything here; what is not an option is refused."""
    value = st.session_state.get(key)
    if value not in options:
        raise RunRefused(f"that is not one of the choices for {key}; reload the page and choose again")
    return value


def uploaded_files() -> list[UploadedFile]:
    # A callback sees the uploaders' state unfiltered: files removed since are still listed, as DeletedFile.
    folder = [f for f in st.session_state.get("upload_folder") or [] if isinstance(f, UploadedFile)]
    archive = st.session_state.get("upload_zip")
    archive = archive if isinstance(archive, UploadedFile) else None
    if folder and archive:
        raise RunRefused("give a folder or a .zip, not both: remove one of them")
    if not folder and archive is None:
        raise RunRefused("upload a folder with one sub-folder of images per class, or a .zip of one, first")
    return [archive] if archive is not None else folder


def chosen_data(source: str):
    """(what the run calls its data, how it opens it) for the chosen source. Nothing the page was sent is a path:
    an upload is read in memory, a server data set is picked from the listed names of RESNET_DATA_ROOT."""
    if source in NAMED_SOURCES:
        return source, partial(open_named_data, source)
    if source == "upload":
        files = uploaded_files()
        # The bytes are copied in the worker, inside its run slot, and dropped once decoded.
        return "upload", lambda size: open_upload([(f.name, f.getvalue()) for f in files], size, limits())
    root = data_root()
    name = chosen("server_folder", server_folders(root) if root else [])
    return f"server data set {name}", partial(open_server_folder, root, name)


def chosen_run():
    """The settings as the widgets hold them now, and the data opener; read in the Start callback, after this click's
    widget changes."""
    state = st.session_state
    arch = chosen("arch", LAB_IMAGE_SIZES)
    data, opener = chosen_data(chosen("data", offered_sources()))
    trains = int(state.steps) > 0  # at initialisation there is nothing trained to open up
    config = RunConfig(arch=arch, variants=tuple(v for v in VARIANTS if state[v]),
                       batch_norm=bool(state.batch_norm),
                       initializer=chosen("initializer", INITIALIZERS), seed=int(state.seed),
                       batch_size=int(state.batch_size), optimizer=chosen("optimizer", OPTIMIZERS),
                       learning_rate=float(state.learning_rate), steps=int(state.steps), data=data,
                       image_size=LAB_IMAGE_SIZES[arch], holdout=chosen("holdout", HOLDOUT_SHARES),
                       lesions=trains, line_points=min(LINE_POINTS, limits().max_line_points) if trains else 0,
                       slice_side=int(state.slice_side) if trains and state.slice else 0, sanity=trains)
    return config, opener


def offered_sources() -> list[str]:
    root = data_root()
    return [source for source in DATA_SOURCES if source != "server" or (root and server_folders(root))]


def start_run():
    """Start in the button's callback, before the page is drawn, so Start and Stop are drawn in the new state."""
    session_key = st.session_state.setdefault("gradient_session", uuid.uuid4().hex)
    try:
        config, opener = chosen_run()
        st.session_state.gradient_run = BackgroundRun(config, run_registry(), session_key, limits(), data=opener)
    except UserError as refused:
        st.session_state.gradient_refused = str(refused)


def show_data(background: BackgroundRun) -> None:
    """The classes the run trains on, and the files of an upload it left out. As text, never markdown: the names are
    the visitor's own."""
    if background.class_names:
        with st.expander(f"{len(background.class_names)} classes", expanded=background.config.data == "upload"):
            st.dataframe(pd.DataFrame({"class": background.class_names,
                                       **({"images": list(background.class_counts.values())}
                                          if background.class_counts else {})}), hide_index=True)
    if background.problems:
        st.warning(f"{len(background.problems)} file(s) of your upload were left out:")
        st.code("\n".join(background.problems), language=None, wrap_lines=True)


# ---- page -------------------------------------------------------------------------------------------------------

st.title("Gradient lab")
st.markdown(
    "Train a residual network and its **plain twin** (the same layers without shortcuts) on the same batches, "
    "and watch the gradient that reaches every layer. With BatchNorm and no shortcuts, gradients **grow toward "
    "the input**, often a thousand times larger at the first convolution than at the last (the mean-field result "
    "for BatchNorm networks, Yang et al., ICLR 2019). Without BatchNorm, a deep plain net's gradients **vanish** "
    "instead, so its early layers barely learn; with shortcuts, the norms stay within a small factor from input "
    "to output, and the deep residual net trains while the deep plain one lags (He et al., 2016).")

try:
    bounds = limits()
except RunRefused as exc:  # an operator's RESNET_MAX_* that is not a positive number
    st.error(notices.misconfigured("The Gradient lab cannot train on this server just now", exc))
    st.stop()
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
    middle.selectbox("Optimiser", OPTIMIZERS, index=OPTIMIZERS.index(RunConfig.optimizer), key="optimizer")
    middle.number_input("Learning rate", min_value=1e-5, max_value=1.0, value=RunConfig.learning_rate, step=0.005,
                        format="%.4f", key="learning_rate")
    middle.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, key="seed")
    right.number_input(f"Steps (0 = norms at initialisation; ≤ {bounds.max_steps})", min_value=0,
                       max_value=bounds.max_steps, value=min(60, bounds.max_steps), key="steps")
    right.select_slider("Batch size", [b for b in (4, 8, 16, 32, 64, 128) if b <= bounds.max_batch],
                        value=min(32, bounds.max_batch), key="batch_size")
    right.select_slider("Held-out share (never trained on)", HOLDOUT_SHARES, value=RunConfig.holdout,
                        key="holdout", help=f"of each class; at most {bounds.max_heldout_images} images in all")
    source = right.radio("Data", offered_sources(), format_func=DATA_SOURCES.get, key="data")
    if source == "cifar10" and not cifar10_cached():
        right.caption("CIFAR-10 is not cached on this server, and it cannot be downloaded here.")
    if source == "server":
        right.selectbox("Data set", server_folders(data_root()), key="server_folder")
    if source == "upload":
        folder_column, zip_column = st.columns(2)
        folder_column.file_uploader("A folder with one sub-folder of images per class", type=images.UPLOAD_TYPES,
                                    accept_multiple_files="directory", key="upload_folder")
        zip_column.file_uploader("…or a .zip of such a folder", type=["zip"], key="upload_zip")
        st.caption(f"Your images stay in this server's memory for your run only. At most {bounds.max_upload_files} "
                   f"files and {bounds.max_upload_total_mb} MB (inflated), {bounds.max_upload_megapixels} megapixels "
                   f"in all, {bounds.max_classes} classes; each image as on the Predict page.")
    slice_column, side_column = st.columns(2)
    slice_column.toggle("Also a 2-D slice of the loss around the trained weights (slow)", value=False, key="slice",
                        help="Li et al. 2018's filter-normalised directions: side × side forward passes per net")
    side_column.select_slider("Slice grid side", [n for n in (3, 5, 7, 9, 11) if n <= bounds.max_slice_side],
                              value=min(5, bounds.max_slice_side), key="slice_side")
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
    show_data(background)
    if background.error is not None:
        st.error(str(background.error) if isinstance(background.error, UserError) else
                 notices.server_problem("The run failed", background.error))
    elif background.running and not background.class_names:
        st.info("Reading the images…")
    elif background.running and background.measuring:
        st.info("Judging the trained nets on the held-out images: lesions, the line, the sanity check…")
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
        document = run_document(config, records, background.stopped, background.trained)
        json_column.download_button("Download JSON", json.dumps(document),
                                    file_name=f"gradients_{config.arch}.json", mime="application/json")
        if background.trained:
            trained_nets_panel(background.trained)


show_run(running)
