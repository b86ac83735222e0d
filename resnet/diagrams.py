"""Block diagrams of a network at four zoom levels, rendered by Graphviz and cached on disk.

- `whole`: every layer, as `keras.utils.model_to_dot` draws it.
- `stage` / `block`: the same drawing cut down to one stage or one block, with the tensors that flow in from
  outside drawn as dashed boxes, so a shortcut that skips the whole block is still a visible edge.
- `collapsed`: drawn from the per-layer table rather than by keras: each stage is one node unless it is expanded,
  then each of its blocks is one node unless that block is expanded too, then its layers. A ResNet-50 as one
  picture of 177 layers is 30,000 pixels tall; collapsed it fits a screen and opens where the reader points.

`render` is the entry point for callers that name a network rather than hold one: a cache hit returns the stored
bytes without building the model or running Graphviz.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import pydot

from resnet import table as layer_tables
from resnet.architectures import ModelSpec
from resnet.errors import UserError
from resnet.lazy import OnFirstUse
from resnet.naming import block_key, stage_name
from resnet.paths import diagram_cache

# Imported when a diagram is drawn: a page without the network reads the cache and the block lists without it.
keras = OnFirstUse("keras")

ZOOMS = ("block", "stage", "whole", "collapsed")
BLOCK_KINDS = ("identity", "projection")
FORMATS = ("svg", "png")
PNG_DPI = 200
# Bump when the drawing itself changes, so old cache entries are not served for new code.
DRAWING_VERSION = 3

# Files kept in the disk cache, the most recently drawn. Every input size, class count, view and option is an entry
# of its own, so without a bound a visitor stepping through them could fill the server's disk.
KEPT_DIAGRAMS = 256

STAGE_COLOURS = {1: "#e8e8e8", 2: "#dbe9f6", 3: "#dcf0dc", 4: "#fbe5cf", 5: "#eadcf3", 6: "#f6dada"}


class GraphvizMissing(UserError):
    """Graphviz's `dot` program, which lays out every diagram, is not installed."""

    def __init__(self):
        super().__init__(
            "Graphviz's `dot` program is not installed: `apt-get install graphviz` (or `brew install graphviz`), "
            "then reload."
        )


class UnknownView(UserError):
    """A stage or block that the network does not have, or a zoom level or format we do not draw."""


@dataclass(frozen=True)
class View:
    """Which part of the network to draw.

    `zoom` is one of ZOOMS. For `block`, `block_kind` picks the first identity or projection block (in `stage`
    if given), or `stage` and `block` name one directly. For `stage`, `stage` is 1 (stem) … 6 (head).
    For `collapsed`, `expand` lists the stages (`"conv3"`) to open into blocks and the blocks (`"conv3_block2"`) to
    open into layers.
    """

    zoom: str = "whole"
    stage: int | None = None
    block: int | None = None
    block_kind: str | None = None
    expand: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlotOptions:
    """The options of `keras.utils.plot_model`, with its defaults."""

    show_shapes: bool = False
    show_dtype: bool = False
    show_layer_names: bool = True
    show_layer_activations: bool = False
    show_trainable: bool = False
    rankdir: str = "TB"


def cache_path(spec: ModelSpec, view: View, options: PlotOptions, fmt: str) -> Path:
    key = json.dumps(
        [DRAWING_VERSION, importlib.metadata.version("keras"), dataclasses.asdict(spec), dataclasses.asdict(view),
         dataclasses.asdict(options), fmt],
        sort_keys=True,
    )
    return diagram_cache() / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.{fmt}"


def render(spec: ModelSpec, view: View = View(), options: PlotOptions = PlotOptions(), fmt: str = "svg",
           build: Callable[[ModelSpec], keras.Model] = ModelSpec.build) -> bytes:
    """The diagram as SVG or PNG bytes, from the disk cache when it holds it.

    `build` makes the model on a cache miss only; a caller that keeps models (the app) passes its own. The collapsed
    view draws the per-layer table alone, so it is drawn from the table on disk when one is there, with no network
    (a lecture hall's thin page draws it so).
    """
    if fmt not in FORMATS:
        raise UnknownView(f"cannot draw a diagram as {fmt!r}: choose one of {', '.join(FORMATS)}.")
    path = cache_path(spec, view, options, fmt)
    if path.exists():
        return path.read_bytes()
    require_graphviz()
    if view.zoom == "collapsed":
        dot = collapsed_dot(layer_tables.cached_layer_table(spec, build=build), expand=view.expand, options=options)
    else:
        dot = view_dot(build(spec), view, options)
    image = draw(dot, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write-then-rename: two app sessions drawing the same diagram never leave half a file behind.
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False) as part:
        part.write(image)
    os.replace(part.name, path)
    prune_cache(path.parent)
    return image


def prune_cache(folder: Path, keep: int | None = None) -> list[Path]:
    """Delete all but the `keep` (default KEPT_DIAGRAMS) most recently drawn diagrams in `folder`, and any
    half-written one an hour old; returns what went."""
    keep = KEPT_DIAGRAMS if keep is None else keep
    drawn = sorted((path for path in folder.iterdir() if path.suffix[1:] in FORMATS),
                   key=lambda path: path.stat().st_mtime, reverse=True)
    hour_ago = time.time() - 3600  # a drawing takes seconds: an hour-old .part belongs to a process that died
    abandoned = [path for path in folder.glob("*.part") if path.stat().st_mtime < hour_ago]
    removed = []
    for path in drawn[keep:] + abandoned:
        with contextlib.suppress(FileNotFoundError):  # another session or server pruning at the same time
            path.unlink()
            removed.append(path)
    return removed


def require_graphviz() -> None:
    if shutil.which("dot") is None:
        raise GraphvizMissing()


def draw(dot: pydot.Dot, fmt: str = "svg") -> bytes:
    """Lay `dot` out with Graphviz's `dot` program: SVG at its natural size in points, PNG at plot_model's 200 dpi.

    (Given any other dpi, Graphviz's SVG scales its drawing inside a viewBox that does not grow with it, and a
    browser shows only the top-left corner.)
    """
    require_graphviz()
    dot.set("dpi", 72 if fmt == "svg" else PNG_DPI)
    try:
        return dot.create(prog="dot", format=fmt)
    except FileNotFoundError as exc:  # removed between the check and the call
        raise GraphvizMissing() from exc


def view_dot(model: keras.Model, view: View = View(), options: PlotOptions = PlotOptions(),
             table: pd.DataFrame | None = None) -> pydot.Dot:
    """The DOT graph of one view of `model` (no Graphviz needed yet)."""
    if view.zoom not in ZOOMS:
        raise UnknownView(f"unknown zoom level {view.zoom!r}: choose one of {', '.join(ZOOMS)}.")
    if table is None:
        table = layer_tables.layer_table(model)
    if view.zoom == "collapsed":
        return collapsed_dot(table, expand=view.expand, options=options)
    if view.zoom == "whole":
        names = list(table.name)
    elif view.zoom == "stage":
        names = list(table.name[table.stage == _existing_stage(table, view.stage)])
    else:
        stage, block = find_block(table, kind=view.block_kind, stage=view.stage, block=view.block)
        names = list(table.name[(table.stage == stage) & (table.block == block)])
    return layers_dot(model, names, options)


def layers_dot(model: keras.Model, names: list[str], options: PlotOptions = PlotOptions()) -> pydot.Dot:
    """`keras.utils.model_to_dot` of `model`, keeping only the layers in `names`.

    Nodes are named after their layers (keras names them by object id), so the SVG's hover titles read
    `conv2_block1_add`. A layer outside `names` that feeds one inside becomes a dashed box, so the edge stays.
    """
    full = keras.utils.model_to_dot(model, **dataclasses.asdict(options))
    node_name = {str(id(layer)): layer.name for layer in model.layers}
    keep = set(names)
    dot = pydot.Dot(graph_type="digraph", **full.get_attributes())
    dot.set_node_defaults(shape="record")
    for node in full.get_nodes():
        name = node_name.get(node.get_name())
        if name in keep:
            dot.add_node(pydot.Node(name, **node.get_attributes()))
    outside = set()
    for edge in full.get_edges():
        source, destination = node_name[edge.get_source()], node_name[edge.get_destination()]
        if destination not in keep:
            continue
        if source not in keep and source not in outside:
            outside.add(source)
            dot.add_node(pydot.Node(source, label=f"from {source}", shape="box", style="dashed,rounded",
                                    fontname="Helvetica", fontsize="16"))
        dot.add_edge(pydot.Edge(source, destination, **edge.get_attributes()))
    return dot


def _existing_stage(table: pd.DataFrame, stage: int | None) -> int:
    stages = sorted(set(table.stage))
    if stage not in stages:
        raise UnknownView(f"this network has no stage {stage}: choose one of {', '.join(map(str, stages))}.")
    return stage


# ---- blocks ---------------------------------------------------------------------------------------------------

def block_inputs(table: pd.DataFrame, stage: int, block: int) -> list[str]:
    """Layers outside block (stage, block) whose outputs its layers read, in order of first use."""
    rows = table[(table.stage == stage) & (table.block == block)]
    inside = set(rows.name)
    seen = []
    for inputs in rows.inputs:
        for name in filter(None, inputs.split(", ")):
            if name not in inside and name not in seen:
                seen.append(name)
    return seen


def block_kind(table: pd.DataFrame, stage: int, block: int) -> str:
    """`identity`, `projection` (a shortcut with weights), `parameter-free shortcut` (option A's zero padding, or
    V2's sub-sampling max-pool) or `plain` (no addition), read from the graph rather than from layer names."""
    rows = table[(table.stage == stage) & (table.block == block)].set_index("name")
    adds = rows[rows.type == "Add"]
    if adds.empty:
        return "plain"
    branch_inputs = adds.iloc[-1].inputs.split(", ")
    if any(name not in rows.index for name in branch_inputs):
        return "identity"
    # Both inputs come from inside the block: the shortcut is the branch with fewer layers back to the block input.
    branches = [_branch(rows, name) for name in branch_inputs]
    shortcut = min(branches, key=len)
    return "projection" if rows.loc[sorted(shortcut), "params"].sum() > 0 else "parameter-free shortcut"


def _branch(rows: pd.DataFrame, name: str) -> set[str]:
    """The layers of the block on the way back from `name` to the block's input."""
    found, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in rows.index and current not in found:
            found.add(current)
            todo.extend(filter(None, rows.loc[current, "inputs"].split(", ")))
    return found


def residual_blocks(table: pd.DataFrame) -> list[tuple[int, int]]:
    """(stage, block) of every block of the residual stages, in order."""
    pairs = table.loc[table.block > 0, ["stage", "block"]].drop_duplicates()
    return [tuple(map(int, pair)) for pair in pairs.itertuples(index=False)]


def changes_shape(table: pd.DataFrame, stage: int, block: int) -> bool:
    """Whether the block's output shape differs from its input's: where a residual net needs a non-identity
    shortcut. Read from shapes, so it finds the same positions in a plain twin."""
    rows = table[(table.stage == stage) & (table.block == block)]
    by_name = table.set_index("name")
    source = block_inputs(table, stage, block)[0]
    return by_name.loc[source, "output_shape"] != rows.output_shape.iloc[-1]


def find_block(table: pd.DataFrame, kind: str | None = None, stage: int | None = None,
               block: int | None = None) -> tuple[int, int]:
    """(stage, block) of the block a `block` view draws.

    `kind="projection"` is the first block that changes the tensor's shape, `"identity"` the first that keeps it
    (in `stage`, if given); in a plain twin these are the same positions, without the shortcut.
    """
    candidates = [pair for pair in residual_blocks(table) if stage is None or pair[0] == stage]
    if block is not None:
        if (stage, block) not in candidates:
            raise UnknownView(f"this network has no block {block} in stage {stage}.")
        return stage, block
    if kind not in BLOCK_KINDS:
        raise UnknownView(f"unknown block kind {kind!r}: choose one of {', '.join(BLOCK_KINDS)}.")
    for pair in candidates:
        if changes_shape(table, *pair) == (kind == "projection"):
            return pair
    where = f" in stage {stage}" if stage is not None else ""
    raise UnknownView(f"this network has no {kind} block{where}: try the other kind or another stage.")


# ---- the collapsed view -----------------------------------------------------------------------------------------

def expandable(table: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The names a collapsed view's `expand` accepts: stage keys, then block keys."""
    stages = [stage_name(stage) for stage in sorted(set(table.stage))]
    return stages, [block_key(*pair) for pair in residual_blocks(table)]


def blocks_of(table: pd.DataFrame, stage_keys) -> list[str]:
    """The block keys of the stages named in `stage_keys` (as `expandable` names them), in order."""
    return [block_key(*pair) for pair in residual_blocks(table) if layer_tables.stage_name(pair[0]) in stage_keys]


def collapsed_dot(table: pd.DataFrame, expand=(), options: PlotOptions = PlotOptions()) -> pydot.Dot:
    """One node per stage, per block of an expanded stage, or per layer of an expanded block (or of an expanded
    stem or head, which have no blocks); an edge wherever a tensor crosses between two nodes."""
    expand = set(expand)
    stage_keys, block_keys = expandable(table)
    unknown = expand - set(stage_keys) - set(block_keys)
    if unknown:
        raise UnknownView(f"nothing to expand called {', '.join(sorted(unknown))}: "
                          f"choose stages ({', '.join(stage_keys)}) or blocks such as {block_keys[0]}.")
    dot = pydot.Dot(graph_type="digraph", rankdir=options.rankdir, fontname="Helvetica", nodesep="0.3")
    dot.set_node_defaults(shape="box", style="rounded,filled", fontname="Helvetica", fontsize="14")
    dot.set_edge_defaults(penwidth="2")

    def node_of(row) -> str:
        stage_key = stage_name(row.stage)
        if stage_key not in expand:
            return stage_key
        if row.block == 0 or block_key(row.stage, row.block) in expand:
            return row.name
        return block_key(row.stage, row.block)

    rows = list(table.itertuples(index=False))
    node_for_layer = {row.name: node_of(row) for row in rows}
    stage_sums = layer_tables.stage_totals(table)
    stage_sizes = layer_tables.stage_sizes(table)
    block_sums = layer_tables.block_totals(table)
    containers: dict[str, pydot.Subgraph] = {}
    drawn = set()
    for row in rows:
        node = node_for_layer[row.name]
        if node in drawn:
            continue
        drawn.add(node)
        colour = STAGE_COLOURS.get(row.stage, "white")
        if node == stage_name(row.stage):
            sums = stage_sums.loc[row.stage]
            label = [node, stage_sizes[row.stage]]
            container = dot
        elif node == block_key(row.stage, row.block):
            sums = block_sums.loc[(row.stage, row.block)]
            label = [node, block_kind(table, row.stage, row.block)]
            container = _cluster(dot, containers, row.stage, None)
        else:
            sums = row
            label = [row.name if options.show_layer_names else row.type]
            if options.show_layer_names:
                label.append(row.type)
            container = _cluster(dot, containers, row.stage, row.block or None)
        if options.show_shapes:
            label.append("×".join(map(str, sums.output_shape)))
        label.append(layer_tables.params_and_macs(sums))
        container.add_node(pydot.Node(node, label=_dot_text("\n".join(label)), fillcolor=colour))
    edges = set()
    for row in rows:
        for source in filter(None, row.inputs.split(", ")):
            pair = (node_for_layer[source], node_for_layer[row.name])
            if pair[0] != pair[1] and pair not in edges:
                edges.add(pair)
                dot.add_edge(pydot.Edge(*pair))
    return dot


def _cluster(dot: pydot.Dot, containers: dict, stage: int, block: int | None):
    """The dashed frame around an expanded stage (or a block inside it), made on first use."""
    stage_key = stage_name(stage)
    if stage_key not in containers:
        frame = pydot.Cluster(f"cluster_{stage_key}", label=stage_key, style="dashed", fontname="Helvetica",
                             labeljust="l")
        dot.add_subgraph(frame)
        containers[stage_key] = frame
    if block is None:
        return containers[stage_key]
    key = block_key(stage, block)
    if key not in containers:
        frame = pydot.Cluster(f"cluster_{key}", label=key, style="dashed", fontname="Helvetica",
                             labeljust="l")
        containers[stage_key].add_subgraph(frame)
        containers[key] = frame
    return containers[key]


def _dot_text(text: str) -> str:
    # pydot writes the label verbatim; quote it and keep "\n" as Graphviz's own line break.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def svg_for_html(svg: bytes, scale: float | None = 1.0) -> str:
    """Graphviz's SVG as an element to put inside an HTML page, drawn at `scale` times its natural size, or with
    `scale=None` fitted whole into its container (100% of its width and height, proportions kept).

    The XML prolog and DOCTYPE go (they are not allowed inside HTML); the size attributes change while the viewBox
    stays, so the browser redraws the vector picture sharp at any zoom.
    """
    text = svg.decode("utf-8")
    text = text[text.index("<svg"):]
    head_end = text.index(">")

    def size(match) -> str:
        # Fitted: preserveAspectRatio's default (xMidYMid meet) keeps the proportions and centres the drawing.
        value = "100%" if scale is None else f"{float(match[2]) * scale:.1f}pt"
        return f'{match[1]}="{value}"'

    return re.sub(r'\b(width|height)="([\d.]+)pt"', size, text[:head_end]) + text[head_end:]
