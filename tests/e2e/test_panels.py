"""The lesion, shortcut and receptive-field panels in Chromium: each switched on by its toggle, each drawing its
charts or pictures, each photographed for the README (docs/images/<name>.png)."""

import re

import pytest

pytestmark = pytest.mark.e2e

UNTRAINED = "UNTRAINED (random weights) — not a real prediction"  # resnet.inference.UNTRAINED_LABEL

# Each plotly chart on the page: its title and how many bars it draws over all its traces.
CHARTS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(plot => ({
  title: plot.layout.title.text,
  bars: plot.data.filter(trace => trace.type === 'bar').reduce((n, trace) => n + trace.x.length, 0)}))"""


def switch_on(ui, label: str) -> None:
    ui.rerun_after(lambda: ui.page.get_by_text(label, exact=True).first.click())
    ui.assert_healthy()


def chart(ui, title_start: str) -> dict:
    """The chart whose title (as read, without the <b> tags Streamlit's theme wraps it in) starts so."""
    charts = [{**c, "title": re.sub(r"<[^>]+>", "", c["title"])} for c in ui.page.evaluate(CHARTS)]
    [found] = [c for c in charts if c["title"].startswith(title_start)]
    return found


def field_pictures(ui, title: str):
    return ui.page.get_by_test_id("stImage").filter(has_text=f"{title}:")


def test_predict_page_lesions_shortcuts_and_fields(ui):
    ui.open("predict", title="Predict")
    pretrained = ui.page.get_by_text("so every result below comes from random weights").count() == 0

    switch_on(ui, "Take residual blocks out (lesion study)")
    depth = chart(ui, "Probability of")
    assert depth["bars"] == 16  # ResNet-50's blocks, each removed in turn
    assert (UNTRAINED in depth["title"]) != pretrained
    pair = chart(ui, "Top-5, intact and lesioned")
    assert pair["bars"] == 10
    ui.screenshot("lesion")

    switch_on(ui, "Follow the signal through the shortcuts")
    assert chart(ui, "What each block's residual branch adds")["bars"] == 16
    ui.screenshot("shortcuts")

    switch_on(ui, "How far a unit sees (receptive fields)")
    assert field_pictures(ui, "Residual network").count() == 1
    assert field_pictures(ui, "Plain twin (same kernels, no shortcuts)").count() == 1
    assert ui.page.get_by_text("Theoretical field of conv3_block4_out at row 14, column 14: 99×99 px").count() == 1
    ui.screenshot("receptive")


def test_architecture_page_fields_of_a_random_network(ui):
    ui.open("explore", title="Architecture")
    ui.page.get_by_role("tab", name="Layers").click()
    switch_on(ui, "How far a unit sees (theoretical and effective receptive field)")
    assert field_pictures(ui, "Residual network").count() == 1
    assert field_pictures(ui, "Plain twin (same kernels, no shortcuts)").count() == 1
    ui.screenshot("receptive_architecture")
