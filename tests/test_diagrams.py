"""Diagrams: what each view's DOT holds, and how the disk cache and a missing Graphviz behave for real."""

import os
import re
import time

import pytest

import resnet
from resnet import diagrams, table
from resnet.architectures import ModelSpec
from resnet.diagrams import PlotOptions, View
from resnet.errors import UserError
from resnet.naming import block_key


@pytest.fixture(scope="module")
def resnet50():
    return resnet.build("resnet50")


@pytest.fixture(scope="module")
def resnet50_table(resnet50):
    return table.layer_table(resnet50)


def node_names(dot):
    """Every node of `dot`, clusters included, without the node/edge/graph defaults."""
    found = {node.get_name().strip('"') for node in dot.get_nodes()} - {"node", "edge", "graph"}
    for subgraph in dot.get_subgraphs():
        found |= node_names(subgraph)
    return found


def edges(dot):
    return {(edge.get_source().strip('"'), edge.get_destination().strip('"')) for edge in dot.get_edges()}


def graph_edges(rows):
    return {(source, row.name) for row in rows.itertuples() for source in filter(None, row.inputs.split(", "))}


def test_the_whole_network_has_every_layer_and_every_connection(resnet50, resnet50_table):
    dot = diagrams.view_dot(resnet50, View("whole"), table=resnet50_table)
    assert node_names(dot) == {layer.name for layer in resnet50.layers}
    assert edges(dot) == graph_edges(resnet50_table)
    assert len(node_names(dot)) == 177


def test_plot_options_reach_keras_labels(resnet50, resnet50_table):
    plain_labels = diagrams.view_dot(resnet50, View("stage", stage=1), table=resnet50_table).to_string()
    detailed = diagrams.view_dot(resnet50, View("stage", stage=1), table=resnet50_table,
                                 options=PlotOptions(show_shapes=True, show_dtype=True, rankdir="LR")).to_string()
    assert "Output shape" not in plain_labels and "(None, 112, 112, 64)" in detailed
    assert "float32" in detailed and "rankdir=LR" in detailed


def test_a_stage_holds_its_layers_and_what_flows_in(resnet50, resnet50_table):
    dot = diagrams.view_dot(resnet50, View("stage", stage=3), table=resnet50_table)
    stage3 = set(resnet50_table.name[resnet50_table.stage == 3])
    assert node_names(dot) == stage3 | {"conv2_block3_out"}
    assert len(stage3) == 42
    assert ("conv2_block3_out", "conv3_block1_0_conv") in edges(dot)


def test_an_identity_block_shows_its_shortcut_as_an_edge_from_outside(resnet50, resnet50_table):
    dot = diagrams.view_dot(resnet50, View("block", block_kind="identity"), table=resnet50_table)
    assert node_names(dot) == {"conv2_block1_out"} | {
        f"conv2_block2_{part}" for part in
        ("1_conv", "1_bn", "1_relu", "2_conv", "2_bn", "2_relu", "3_conv", "3_bn", "add", "out")}
    assert ("conv2_block1_out", "conv2_block2_add") in edges(dot)


def test_a_projection_block_and_its_plain_twin():
    residual = resnet.build("resnet18")
    plain = resnet.build("resnet18", plain=True)
    view = View("block", block_kind="projection")
    residual_dot = diagrams.view_dot(residual, view)
    plain_dot = diagrams.view_dot(plain, view)
    # resnet18's first block keeps its shape; the projection is conv3's first block.
    assert {"conv3_block1_0_conv", "conv3_block1_0_bn", "conv3_block1_add"} <= node_names(residual_dot)
    assert ("conv3_block1_0_bn", "conv3_block1_add") in edges(residual_dot)
    assert node_names(residual_dot) - node_names(plain_dot) == {
        "conv3_block1_0_conv", "conv3_block1_0_bn", "conv3_block1_add"}
    assert {destination for source, destination in edges(plain_dot) if source == "conv2_block2_out"} == {
        "conv3_block1_1_conv"}


def test_block_kinds_are_read_from_the_graph(resnet50_table):
    kinds = {block_key(*pair): diagrams.block_kind(resnet50_table, *pair)
             for pair in diagrams.residual_blocks(resnet50_table)}
    assert [key for key, kind in kinds.items() if kind == "projection"] == [
        "conv2_block1", "conv3_block1", "conv4_block1", "conv5_block1"]
    assert len(kinds) == 16 and set(kinds.values()) == {"projection", "identity"}
    cifar = table.layer_table(resnet.build("resnet20"))
    assert diagrams.block_kind(cifar, 3, 1) == "parameter-free shortcut"  # option A: zero padding
    assert diagrams.find_block(cifar, "projection") == (3, 1)
    assert diagrams.block_kind(table.layer_table(resnet.build("resnet20", plain=True)), 3, 1) == "plain"


def test_collapsed_with_every_stage_open_has_one_node_per_block(resnet50_table):
    stages, blocks = diagrams.expandable(resnet50_table)
    dot = diagrams.collapsed_dot(resnet50_table, expand=["conv2", "conv3", "conv4", "conv5"])
    assert node_names(dot) == {"stem", "head", *blocks}
    assert len(blocks) == 16
    chain = ["stem", *blocks, "head"]
    assert edges(dot) == set(zip(chain, chain[1:]))


def test_collapsed_by_default_is_one_node_per_stage_and_a_block_opens_into_layers(resnet50_table):
    assert node_names(diagrams.collapsed_dot(resnet50_table)) == {"stem", "conv2", "conv3", "conv4", "conv5", "head"}
    dot = diagrams.collapsed_dot(resnet50_table, expand=["conv3", "conv3_block2"])
    block_layers = set(resnet50_table.name[(resnet50_table.stage == 3) & (resnet50_table.block == 2)])
    assert node_names(dot) == {"stem", "conv2", "conv3_block1", "conv3_block3", "conv3_block4", "conv4", "conv5",
                               "head"} | block_layers
    assert ("conv3_block1", "conv3_block2_add") in edges(dot)  # the identity shortcut, into the opened block
    with pytest.raises(UserError, match="nothing to expand called conv9"):
        diagrams.collapsed_dot(resnet50_table, expand=["conv9"])


def test_blocks_of_the_stages_a_reader_opened(resnet50_table):
    assert diagrams.blocks_of(resnet50_table, ["conv3"]) == [f"conv3_block{b}" for b in (1, 2, 3, 4)]
    assert diagrams.blocks_of(resnet50_table, ["stem", "conv5", "head"]) == [f"conv5_block{b}" for b in (1, 2, 3)]
    assert diagrams.blocks_of(resnet50_table, []) == []


def test_collapsed_stage_nodes_say_their_blocks_layers_and_cost(resnet50_table):
    labels = {node.get_name().strip('"'): node.get("label").strip('"').split("\\n")
              for node in diagrams.collapsed_dot(resnet50_table).get_nodes() if node.get("label")}
    stages = table.stage_totals(resnet50_table)
    assert labels["conv3"] == ["conv3", f"4 blocks · {stages.loc[3, 'layers']} layers",
                               table.params_and_macs(stages.loc[3])]
    assert labels["stem"][1] == f"{stages.loc[1, 'layers']} layers"  # the stem has layers, not blocks


def test_unknown_views_are_user_errors(resnet50, resnet50_table):
    with pytest.raises(UserError, match="no stage 8"):
        diagrams.view_dot(resnet50, View("stage", stage=8), table=resnet50_table)
    with pytest.raises(UserError, match="no identity block in stage 1"):
        diagrams.view_dot(resnet50, View("block", block_kind="identity", stage=1), table=resnet50_table)
    with pytest.raises(UserError, match="zoom"):
        diagrams.view_dot(resnet50, View("galaxy"), table=resnet50_table)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_CACHE_DIR", str(tmp_path))
    return tmp_path / "diagrams"


def test_render_draws_svg_once_then_serves_it_from_disk_without_graphviz(cache, monkeypatch):
    spec, view = ModelSpec("resnet20"), View("collapsed", expand=("conv2",))
    first = diagrams.render(spec, view)
    assert first.lstrip().startswith(b"<?xml") and b"<svg" in first
    assert b"<title>conv2_block3</title>" in first
    [stored] = cache.iterdir()
    written = stored.stat().st_mtime_ns

    monkeypatch.setenv("PATH", "")  # a hit must need neither Graphviz nor the model
    assert diagrams.render(spec, view) == first
    assert stored.stat().st_mtime_ns == written
    assert list(cache.iterdir()) == [stored]


def test_each_option_is_its_own_cache_entry(cache):
    spec = ModelSpec("resnet20")
    model = spec.build()
    builds = []

    def build(asked):
        builds.append(asked)
        return model

    view = View("block", block_kind="identity")
    narrow = diagrams.render(spec, view, PlotOptions(), build=build)
    wide = diagrams.render(spec, view, PlotOptions(show_shapes=True), build=build)
    sideways = diagrams.render(spec, view, PlotOptions(rankdir="LR"), build=build)
    assert diagrams.render(spec, view, PlotOptions(rankdir="LR"), build=build) == sideways
    assert builds == [spec] * 3  # once per miss, never on a hit
    # Drawn at its natural size: keras asks for 200 dpi, which Graphviz's SVG would apply inside a fixed viewBox.
    assert b'transform="scale(1 1)' in narrow
    assert len({narrow, wide, sideways}) == 3
    assert len(list(cache.iterdir())) == 3
    assert diagrams.render(ModelSpec("resnet20", plain=True), view) != narrow


def test_the_disk_cache_keeps_only_the_most_recent_drawings(cache, monkeypatch):
    monkeypatch.setattr(diagrams, "KEPT_DIAGRAMS", 2)
    spec = ModelSpec("resnet20")
    for options in (PlotOptions(), PlotOptions(show_shapes=True), PlotOptions(rankdir="LR")):
        diagrams.render(spec, View("block", block_kind="identity"), options)
        time.sleep(0.01)  # distinct modification times
    kept = {path.name for path in cache.iterdir()}
    assert len(kept) == 2
    assert kept == {diagrams.cache_path(spec, View("block", block_kind="identity"), options, "svg").name
                    for options in (PlotOptions(show_shapes=True), PlotOptions(rankdir="LR"))}


def test_pruning_removes_hour_old_half_written_files_and_nothing_else(tmp_path):
    for name in ("a.svg", "b.png", "old.part", "fresh.part", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    hour_and_a_bit = time.time() - 3700
    os.utime(tmp_path / "old.part", (hour_and_a_bit, hour_and_a_bit))
    os.utime(tmp_path / "a.svg", (hour_and_a_bit, hour_and_a_bit))
    removed = diagrams.prune_cache(tmp_path, keep=1)
    assert sorted(path.name for path in removed) == ["a.svg", "old.part"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["b.png", "fresh.part", "notes.txt"]


def test_png_for_download(cache):
    image = diagrams.render(ModelSpec("resnet20"), View("block", block_kind="projection"), fmt="png")
    assert image.startswith(b"\x89PNG\r\n\x1a\n")


def test_without_graphviz_a_cold_render_says_how_to_install_it(cache, monkeypatch):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(diagrams.GraphvizMissing) as caught:
        diagrams.render(ModelSpec("resnet20"), View("whole"))
    assert str(caught.value) == ("Graphviz's `dot` program is not installed: `apt-get install graphviz` "
                                 "(or `brew install graphviz`), then reload.")
    assert isinstance(caught.value, UserError)
    assert not cache.exists() or not list(cache.iterdir())


def test_svg_for_html_scales_the_picture_and_drops_the_prolog(cache):
    svg = diagrams.render(ModelSpec("resnet20"), View("collapsed"))
    width = float(re.search(rb'<svg width="([\d.]+)pt"', svg)[1])
    embedded = diagrams.svg_for_html(svg, scale=0.5)
    assert embedded.startswith("<svg") and embedded.rstrip().endswith("</svg>")
    assert f'width="{width * 0.5:.1f}pt"' in embedded
    assert re.search(r'viewBox="[^"]+"', embedded)[0].encode() in svg  # the drawing itself is untouched
    fitted = diagrams.svg_for_html(svg, scale=None)
    assert re.match(r'<svg width="100%" height="100%"', fitted)
    assert re.search(r'viewBox="[^"]+"', fitted)[0].encode() in svg  # the browser scales the viewBox into the frame
