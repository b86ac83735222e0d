"""The Architecture page in Chromium: the plain-twin switch changes the counts, and the block diagram shows the
shortcut as the one difference between a residual block and its plain twin."""

import pytest

pytestmark = pytest.mark.e2e

RESNET50_PARAMS = 25_636_712  # keras.applications.ResNet50
RESNET50_LAYERS = 177
# The plain twin drops ResNet-50's 16 shortcut additions and the 4 projection shortcuts (a conv and a BN each).
PLAIN_TWIN_LAYERS = RESNET50_LAYERS - 16 - 4 * 2


def number(text: str) -> int:
    return int(text.replace(",", ""))


def diagram_text(ui, index: int) -> str:
    """The text of the SVG drawn in the page's index-th diagram frame."""
    svg = ui.page.frame_locator('[data-testid="stIFrame"]').nth(index).locator("svg").first
    svg.wait_for(state="attached")
    return svg.text_content()


def test_plain_twin_and_block_diagrams(ui):
    ui.open("explore", title="Architecture")
    assert number(ui.metric("Parameters")) == RESNET50_PARAMS
    assert number(ui.metric("Layers")) == RESNET50_LAYERS
    collapsed = diagram_text(ui, 0)  # the default view: one node per block
    assert "stem" in collapsed and "conv2_block1" in collapsed

    ui.rerun_after(lambda: ui.page.get_by_text("Plain twin (no shortcuts)", exact=True).click())
    assert number(ui.metric("Layers")) == PLAIN_TWIN_LAYERS
    assert number(ui.metric("Parameters")) < RESNET50_PARAMS

    zoom = ui.page.get_by_test_id("stRadio").filter(has=ui.page.get_by_text("Zoom level", exact=True))
    ui.rerun_after(lambda: zoom.get_by_text("One block", exact=True).click())
    assert ui.page.get_by_test_id("stIFrame").count() == 2  # residual and plain twin, side by side
    residual, plain = diagram_text(ui, 0), diagram_text(ui, 1)
    assert "conv2_block2_add" in residual and "(Add)" in residual
    assert "conv2_block2_3_conv" in plain and "(Add)" not in plain
    ui.screenshot("architecture")
