"""The architecture explorer: block diagrams at four zoom levels, the per-layer table, and two networks compared."""

import dataclasses

import pandas as pd
import streamlit as st

import resnet
from app import notices
from app.panels.receptive import architecture_receptive_panel
from app.resources import NeedsTheNetwork, layer_table, picture
from resnet import diagrams, table
from resnet.architecture_charts import stage_figure
from resnet.architectures import ModelSpec
from resnet.diagrams import PlotOptions, View
from resnet.errors import UserError

# Percent of Graphviz's natural size, or "fit": the whole drawing in the frame (a block, Add node included, at once).
DEFAULT_ZOOM = {"collapsed": 80, "block": "fit", "stage": 50, "whole": 40}
ZOOM_PERCENTS = ["fit", *range(10, 210, 10)]
DIAGRAM_HEIGHT = 720  # pixels of the scrollable frame
ZOOM_LABELS = {"collapsed": "Collapsed (one node per block)", "block": "One block", "stage": "One stage",
               "whole": "Whole network"}
LAYER_COLUMNS = {
    "name": st.column_config.TextColumn("Layer"),
    "type": st.column_config.TextColumn("Type"),
    "block": st.column_config.NumberColumn("Block"),
    "output_shape": st.column_config.TextColumn("Output shape"),
    "params": st.column_config.NumberColumn("Params", format="localized"),
    "trainable_params": st.column_config.NumberColumn("Trainable", format="localized"),
    "non_trainable_params": st.column_config.NumberColumn("Non-trainable", format="localized"),
    "macs": st.column_config.NumberColumn("MACs", format="localized"),
    "receptive_field": st.column_config.NumberColumn("Receptive field (px)"),
    "jump": st.column_config.NumberColumn("Jump (px)"),
    "activation_bytes": st.column_config.NumberColumn("Activation (bytes)", format="localized"),
}


# ---- helpers ----------------------------------------------------------------------------------------------------

def network_title(name: str, plain: bool) -> str:
    """A network as the charts' legends and the comparison's columns name it."""
    return f"{resnet.ARCHITECTURES[name].title}{' plain' if plain else ''}"


def file_stem(spec: ModelSpec) -> str:
    return f"{spec.arch}{'_plain' if spec.plain else ''}"


def show_svg(svg: bytes, zoom_percent: int | str) -> None:
    """The picture in a scrollable frame; the zoom slider scales the vector drawing, so it stays sharp.

    An iframe rather than st.html: the sanitiser of st.html drops inline SVG. The SVG is our own drawing.
    """
    # The frame's own page has 8-pixel margins: the box inside is that much shorter, so "fit" shows all of it.
    st.iframe(f'<div style="overflow:auto; height:{DIAGRAM_HEIGHT - 24}px; font-family:sans-serif">'
              f"{diagrams.svg_for_html(svg, None if zoom_percent == 'fit' else zoom_percent / 100)}</div>",
              height=DIAGRAM_HEIGHT)


def show_diagram(spec: ModelSpec, view: View, options: PlotOptions, zoom_percent: int | str, key: str) -> None:
    try:
        svg = picture(spec, view, options)
    except diagrams.GraphvizMissing as exc:
        notices.for_the_operator("diagrams cannot be drawn", str(exc))
        st.error(f"Diagrams cannot be drawn on this server: it lacks Graphviz; {notices.FIX_IT}. The tables below "
                 "still work.")
        return
    except UserError as exc:
        st.warning(str(exc))
        return
    show_svg(svg, zoom_percent)
    file_name = f"{file_stem(spec)}_{view.zoom}"
    svg_button, png_button = st.columns(2)
    svg_button.download_button("Download SVG", svg, file_name=f"{file_name}.svg", mime="image/svg+xml",
                               key=f"svg_{key}")
    # PNG takes seconds for a whole network: drawn only when asked for (the callable runs on click).
    png_button.download_button("Download PNG", lambda: picture(spec, view, options, "png"),
                               file_name=f"{file_name}.png", mime="image/png", key=f"png_{key}")


def for_display(frame: pd.DataFrame) -> pd.DataFrame:
    shown = frame[list(LAYER_COLUMNS)].copy()
    shown["output_shape"] = shown.output_shape.map(lambda shape: " × ".join(map(str, shape)))
    return shown


# ---- controls ---------------------------------------------------------------------------------------------------

st.title("Architecture")
st.caption("Pick a network, then look at it as a diagram, as a table of every layer, or next to another one.")

names = list(resnet.ARCHITECTURES)
left, middle, right = st.columns([2, 1, 1])
arch_name = left.selectbox("Architecture", names, index=names.index("resnet50"),
                           format_func=lambda name: resnet.ARCHITECTURES[name].title)
arch = resnet.ARCHITECTURES[arch_name]
# Keyed by architecture, so each network starts from its own input size and class count.
input_size = middle.number_input("Input size (pixels)", min_value=32, max_value=512, step=16,
                                 value=arch.input_shape[0], key=f"input_size_{arch_name}")
include_top = right.checkbox("Include the classifier (top)", value=True)
classes = middle.number_input("Classes", min_value=1, max_value=10_000, value=arch.classes, disabled=not include_top,
                              key=f"classes_{arch_name}")
plain = right.toggle("Plain twin (no shortcuts)", value=False)
spec = ModelSpec(arch=arch_name, input_size=int(input_size), classes=int(classes), include_top=include_top,
                 plain=plain)

try:
    rows = layer_table(spec)
except NeedsTheNetwork as exc:  # a lecture hall's thin page, asked for a size nobody counted ahead of time
    st.warning(str(exc))
    st.stop()
except UserError as exc:
    st.error(str(exc))
    st.stop()

whole = table.totals(rows)
stages = table.stage_totals(rows)
columns = st.columns(5)
columns[0].metric("Parameters", f"{whole['params']:,}")
columns[1].metric("Trainable", f"{whole['trainable_params']:,}")
columns[2].metric("MACs per image", table.human(whole["macs"]))
columns[3].metric("Layers", whole["layers"])
columns[4].metric("Activations per image", f"{table.human(whole['activation_bytes'])}B")

diagram_tab, layers_tab, compare_tab = st.tabs(["Diagram", "Layers", "Compare"])


# ---- the diagram ------------------------------------------------------------------------------------------------

with diagram_tab:
    zoom = st.radio("Zoom level", list(ZOOM_LABELS), format_func=ZOOM_LABELS.get, horizontal=True)
    with st.expander("Plot options (as keras.utils.plot_model)"):
        option_columns = st.columns(3)
        options = PlotOptions(
            show_shapes=option_columns[0].checkbox("Shapes", value=True),
            show_dtype=option_columns[0].checkbox("Dtypes"),
            show_layer_names=option_columns[1].checkbox("Layer names", value=True),
            show_layer_activations=option_columns[1].checkbox("Activations"),
            show_trainable=option_columns[2].checkbox("Trainable"),
            rankdir=option_columns[2].radio("Direction", ["TB", "LR"], horizontal=True,
                                            format_func={"TB": "top → bottom", "LR": "left → right"}.get),
        )
    zoom_percent = st.select_slider("Zoom (%)", ZOOM_PERCENTS, value=DEFAULT_ZOOM[zoom], key=f"zoom_{zoom}",
                                    format_func=lambda z: "fit the frame" if z == "fit" else f"{z}%")
    stage_numbers = list(stages.index)
    if zoom == "block":
        kind_column, stage_column = st.columns(2)
        kind = kind_column.radio("Block", diagrams.BLOCK_KINDS, horizontal=True,
                                 format_func={"identity": "identity (shape kept)",
                                              "projection": "projection (shape changes)"}.get)
        stage = stage_column.selectbox("In stage", [None, *table.residual_stages(rows)],
                                       format_func=lambda s: "the first one" if s is None else table.stage_name(s))
        view = View("block", block_kind=kind, stage=stage)
        st.caption("The same block of the residual network and of its plain twin: the shortcut is the difference.")
        for column, twin in zip(st.columns(2), (False, True)):
            with column:
                st.markdown("**Plain twin**" if twin else "**Residual**")
                show_diagram(dataclasses.replace(spec, plain=twin), view, options, zoom_percent, f"block_{twin}")
    elif zoom == "stage":
        stage = st.selectbox("Stage", stage_numbers, index=min(2, len(stage_numbers) - 1),
                             format_func=table.stage_name)
        show_diagram(spec, View("stage", stage=stage), options, zoom_percent, "stage")
    elif zoom == "whole":
        st.caption("Every layer; scroll, or lower the zoom to see more at once.")
        show_diagram(spec, View("whole"), options, zoom_percent, "whole")
    else:
        stage_keys, _ = diagrams.expandable(rows)
        open_stages = st.multiselect("Stages opened into blocks", stage_keys,
                                     default=[table.stage_name(stage) for stage in table.residual_stages(rows)])
        open_blocks = st.multiselect("Blocks opened into layers", diagrams.blocks_of(rows, open_stages))
        show_diagram(spec, View("collapsed", expand=tuple(open_stages + open_blocks)), options, zoom_percent,
                     "collapsed")


# ---- the table --------------------------------------------------------------------------------------------------

with layers_tab:
    search = st.text_input("Search layers", placeholder="name or type, e.g. add, conv3_block2, BatchNorm")
    matches = table.matching_layers(rows, search) if search else rows
    if search:
        st.caption(f"{len(matches)} of {len(rows)} layers match.")
    st.download_button("Download the table (CSV)", rows.to_csv(index=False).encode(),
                       file_name=f"{file_stem(spec)}_layers.csv", mime="text/csv")
    sizes = table.stage_sizes(rows)
    for stage_number, stage_rows in matches.groupby("stage", sort=True):
        summary = stages.loc[stage_number]
        title = (f"**{summary.stage_name}** — {sizes[stage_number]} · {table.params_and_macs(summary)} · "
                 f"out {' × '.join(map(str, summary.output_shape))}")
        with st.expander(title, expanded=bool(search)):
            st.dataframe(for_display(stage_rows), hide_index=True, column_config=LAYER_COLUMNS, width="stretch")
    st.plotly_chart(stage_figure({network_title(arch_name, plain): stages}), key="stage_chart")


# ---- two networks side by side ----------------------------------------------------------------------------------

with compare_tab:
    st.caption("The network above against another: by default its own twin (residual against plain).")
    other_column, twin_column = st.columns([2, 1])
    other_name = other_column.selectbox("Compare with", names, index=names.index(arch_name),
                                        format_func=lambda name: resnet.ARCHITECTURES[name].title)
    # Keyed by the main toggle: flipping it offers the other twin again.
    other_plain = twin_column.toggle("Plain twin", value=not plain, key=f"other_plain_{plain}")
    # The other network at its own default input size, so 50 vs 101 or ResNet-20 vs ResNet-50 compare like for like.
    other = ModelSpec(arch=other_name, plain=other_plain, include_top=include_top)
    try:
        other_rows = layer_table(other)
    except UserError as exc:
        st.error(str(exc))
    else:
        labels = (network_title(arch_name, plain), network_title(other_name, other_plain))
        if labels[0] == labels[1]:
            labels = (labels[0], f"{labels[1]} (2)")
        comparison = table.comparison(rows, other_rows, labels)
        st.dataframe(comparison, column_config={label: st.column_config.NumberColumn(format="localized")
                                                for label in comparison.columns})
        st.plotly_chart(stage_figure({labels[0]: stages, labels[1]: table.stage_totals(other_rows)}),
                        key="compare_chart")


with layers_tab:  # beside the receptive-field column it draws
    architecture_receptive_panel(arch_name)
