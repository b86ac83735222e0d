"""The architecture page in Streamlit's AppTest: it renders, and renders again after each control changes.

One ResNet-50 render (the page's default); every other change runs on ResNet-20, which builds in a fraction of a
second.
"""

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import resnet
from app import notices
from resnet import diagrams
from resnet.paths import diagram_cache

PAGE = "../app/views/explore.py"
TIMEOUT = 180


@pytest.fixture(autouse=True)
def fresh_caches(tmp_path, monkeypatch):
    """Each test draws into its own disk cache and starts with empty Streamlit data caches."""
    monkeypatch.setenv("RESNET_CACHE_DIR", str(tmp_path))
    st.cache_data.clear()


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def widget(elements, label):
    return next(element for element in elements if element.label == label)


def no_errors(at):
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def test_resnet50_renders_with_its_totals_diagram_table_and_comparison():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    no_errors(at)
    assert metric(at, "Parameters") == f"{resnet.build('resnet50').count_params():,}" == "25,636,712"
    assert metric(at, "MACs per image") == "3.86 G"
    assert metric(at, "Layers") == "177"
    assert [expander.label.split("**")[1] for expander in at.expander[1:]] == [
        "stem", "conv2", "conv3", "conv4", "conv5", "head"]
    # The comparison defaults to the plain twin, which lacks the four projection shortcuts.
    comparison = at.dataframe[-1].value
    plain_params = resnet.build("resnet50", plain=True).count_params()
    assert comparison.loc["parameters"].tolist()[:2] == [25_636_712, plain_params]
    assert len(list(diagram_cache().iterdir())) == 1  # the collapsed SVG, drawn once and kept on disk


@pytest.fixture
def resnet20_page():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.run()
    widget(at.selectbox, "Architecture").set_value("resnet20").run()
    no_errors(at)
    assert metric(at, "Parameters") == "271,098"
    return at


def test_input_size_changes_the_macs(resnet20_page):
    at = resnet20_page
    macs_at_32 = metric(at, "MACs per image")
    widget(at.number_input, "Input size (pixels)").set_value(64).run()
    no_errors(at)
    assert metric(at, "Parameters") == "271,098"
    assert metric(at, "MACs per image") != macs_at_32 == "40.6 M"
    assert metric(at, "MACs per image") == "162 M"  # four times the pixels


def test_classes_and_include_top_change_the_head(resnet20_page):
    at = resnet20_page
    widget(at.number_input, "Classes").set_value(100).run()
    no_errors(at)
    assert metric(at, "Parameters") == f"{271_098 + 64 * 90 + 90:,}"
    widget(at.checkbox, "Include the classifier (top)").uncheck().run()
    no_errors(at)
    assert metric(at, "Parameters") == f"{271_098 - 64 * 10 - 10:,}"
    assert widget(at.number_input, "Classes").disabled


def test_plain_twin_and_its_comparison(resnet20_page):
    at = resnet20_page
    widget(at.toggle, "Plain twin (no shortcuts)").set_value(True).run()
    no_errors(at)
    # Nine additions and the two zero-pad shortcuts (first blocks of conv3 and conv4) go.
    assert metric(at, "Layers") == str(len(resnet.build("resnet20", plain=True).layers)) == str(71 - 9 - 2)
    assert widget(at.toggle, "Plain twin").value is False  # the comparison now offers the residual net


@pytest.mark.parametrize("zoom, new_drawings", [("block", 2), ("stage", 1), ("whole", 1), ("collapsed", 0)])
def test_every_zoom_level_renders_and_caches_its_svg(resnet20_page, zoom, new_drawings):
    at = resnet20_page
    before = len(list(diagram_cache().iterdir()))  # the collapsed views the fixture opened on
    widget(at.radio, "Zoom level").set_value(zoom).run()
    no_errors(at)
    # A block is drawn for the residual net and its plain twin, side by side.
    drawn = len(list(diagram_cache().iterdir()))
    assert drawn - before == new_drawings
    # A block opens fitted into its frame, so its addition (the bottom node) is in view; the others at a percent.
    frames = [frame.proto.srcdoc for frame in at.get("iframe")]
    fitted = ['<svg width="100%" height="100%"' in frame for frame in frames]
    assert len(frames) == max(new_drawings, 1) and all(fitted) == (zoom == "block") and any(fitted) == all(fitted)
    widget(at.checkbox, "Shapes").uncheck().run()
    no_errors(at)
    assert len(list(diagram_cache().iterdir())) == drawn + max(new_drawings, 1)  # new options, new drawings


def test_search_filters_the_layer_table(resnet20_page):
    at = resnet20_page
    widget(at.text_input, "Search layers").input("add").run()
    no_errors(at)
    shown = [name for frame in at.dataframe[:-1] for name in frame.value["name"]]
    assert shown == [f"conv{stage}_block{block}_add" for stage in (2, 3, 4) for block in (1, 2, 3)]


def test_without_graphviz_the_page_says_so_plainly_and_still_shows_the_table(resnet20_page, monkeypatch):
    # The visitor reads what it means and who can fix it; the install command goes to the server's log
    # (app/notices.py), as the CLI keeps saying it (diagrams.GraphvizMissing).
    at = resnet20_page
    monkeypatch.setenv("PATH", "")
    widget(at.radio, "Zoom level").set_value("whole").run()
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert "lacks Graphviz" in error and notices.FIX_IT in error and "apt-get" not in error
    assert "apt-get install graphviz" in str(diagrams.GraphvizMissing())
    assert sum(len(frame.value) for frame in at.dataframe[:-1]) == 71
