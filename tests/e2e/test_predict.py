"""The Predict page in Chromium: upload a sample photo, read its top-5 off the page, switch the crop."""

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CUP = ROOT / "assets" / "samples" / "coffee_cup.jpg"
CLASSES = {int(index): label for index, (_, label) in
           json.loads((ROOT / "assets" / "imagenet_classes.json").read_text()).items()}
UNTRAINED = "UNTRAINED (random weights) — not a real prediction"  # resnet.inference.UNTRAINED_LABEL
BAR = re.compile(r"(?P<label>.+) \(#(?P<index>\d+)\)")

# Every bar chart on the page, as plotly holds it: the title, the bars' labels and probabilities.
BAR_CHARTS = """() => [...document.querySelectorAll('.js-plotly-plot')]
  .filter(plot => plot.data && plot.data[0].type === 'bar')
  .map(plot => ({title: plot.layout.title.text, labels: plot.data[0].y, probabilities: plot.data[0].x}))"""


def top5_charts(ui) -> list[dict]:
    return ui.page.evaluate(BAR_CHARTS)


def check_top5(chart: dict, pretrained: bool) -> None:
    assert len(chart["labels"]) == 5
    for shown in chart["labels"]:
        bar = BAR.fullmatch(shown)
        assert bar, shown
        assert CLASSES[int(bar["index"])] == bar["label"]  # the ImageNet class of that index, by name
    probabilities = chart["probabilities"]
    assert all(0 <= p <= 1 for p in probabilities) and probabilities == sorted(probabilities, reverse=True)
    assert len(set(chart["labels"])) == 5
    # Random weights must never pass for a real prediction.
    assert (UNTRAINED not in chart["title"]) == pretrained


def crop_sources(ui) -> list[str]:
    images = ui.page.get_by_test_id("stImage").filter(has_text="What the network saw").locator("img")
    return [images.nth(i).get_attribute("src") for i in range(images.count())]


def test_upload_gives_top5_and_grad_cam(ui):
    ui.open("predict", title="Predict")  # the sample cat is picked by default and classified at once
    pretrained = ui.page.get_by_text("so every result below comes from random weights").count() == 0
    assert len(top5_charts(ui)) == 1

    ui.rerun_after(lambda: ui.page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(CUP))

    assert ui.page.get_by_role("heading", name="coffee_cup.jpg").count() == 1
    assert ui.page.get_by_role("heading", name="cat_chelsea.jpg").count() == 1
    charts = top5_charts(ui)
    assert len(charts) == 2  # the upload and the sample, each with its own top-5
    for chart in charts:
        check_top5(chart, pretrained)
    assert charts[0]["probabilities"] != charts[1]["probabilities"]  # two photos, two answers
    # The first photo's explanation is open: a Grad-CAM overlay and feature maps.
    assert ui.page.get_by_test_id("stImage").filter(has_text="Grad-CAM of").count() == 1
    assert ui.page.get_by_text("most active channels").count() == 1
    ui.screenshot("predict")

    centre_crops = crop_sources(ui)
    crop = ui.page.get_by_test_id("stRadio").filter(has=ui.page.get_by_text("How a photo becomes 224×224"))
    ui.rerun_after(lambda: crop.get_by_text("Squash", exact=False).click())
    squashed = crop_sources(ui)
    assert len(squashed) == 2 and set(squashed).isdisjoint(centre_crops)  # new crops, so new pictures
    for chart in top5_charts(ui):
        check_top5(chart, pretrained)
