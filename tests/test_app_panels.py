"""The lesion, shortcut and receptive-field panels through AppTest, on the Predict page (offline: random weights,
so everything must say UNTRAINED) and on the Architecture page."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from resnet.inference import UNTRAINED_LABEL
from tests.test_app_predict import array, charts, offline_server, page  # noqa: F401 -- offline_server is autouse

ROOT = Path(__file__).resolve().parents[1]
CAT = ROOT / "assets" / "samples" / "cat_chelsea.jpg"
PHOTO = "0_cat_chelsea.jpg"  # widget keys of the first photo end in its place and name


def switched_on(name: str) -> AppTest:
    at = page()
    at.toggle(key=f"{name}_{PHOTO}").set_value(True).run()
    assert not at.exception, at.exception
    return at


def the_cat(classifier):
    [prediction] = classifier.classify([CAT.read_bytes()], names=["cat_chelsea.jpg"])
    return prediction


def bars(chart: dict) -> dict:
    """{bar: value} in the order the x axis shows them (one trace per kind of shortcut)."""
    values = {x: y for trace in chart["data"] if trace["type"] == "bar"
              for x, y in zip(trace["x"], array(trace["y"]).tolist())}
    return {x: values[x] for x in chart["layout"]["xaxis"]["categoryarray"] if x in values}


def test_lesion_panel_charts_each_block_removed_and_the_chosen_ones_side_by_side():
    from app.classifier import get_classifier
    from resnet.lesion import LesionNet

    at = switched_on("lesion")
    [depth] = charts(at, "lesion_depth_0")
    assert depth["layout"]["title"]["text"].endswith(UNTRAINED_LABEL)
    classifier = get_classifier("resnet50")
    expected = LesionNet(classifier.model, "resnet50").each_block(the_cat(classifier).model_input)
    shown = bars(depth)
    assert list(shown) == [name for (name,) in expected.removed]  # all 16, in the order of the network
    np.testing.assert_allclose(list(shown.values()), expected.kept, rtol=0, atol=1e-5)

    [pair] = charts(at, "lesion_top_0")
    assert [a["text"] for a in pair["layout"]["annotations"]][:2] == ["Intact", "Without conv4_block2"]
    at.multiselect(key=f"lesion_blocks_{PHOTO}").set_value(["conv5_block3", "conv2_block1"]).run()
    assert not at.exception
    [pair] = charts(at, "lesion_top_0")
    assert pair["layout"]["annotations"][1]["text"] == "Without conv2_block1 + conv5_block3"
    at.multiselect(key=f"lesion_blocks_{PHOTO}").set_value([]).run()
    assert not charts(at, "lesion_top_0") and len(charts(at, "lesion_depth_0")) == 1


def test_shortcut_panel_charts_the_ratio_of_every_block():
    from app.classifier import get_classifier
    from resnet.shortcuts import ShortcutProbe

    at = switched_on("shortcuts")
    [chart] = charts(at, "shortcuts_0")
    classifier = get_classifier("resnet50")
    expected = ShortcutProbe(classifier.model, "resnet50")(the_cat(classifier).model_input)
    shown = bars(chart)
    assert list(shown) == [s.block for s in expected]
    np.testing.assert_allclose(list(shown.values()), [s.ratio for s in expected], rtol=1e-5)
    assert chart["layout"]["title"]["text"].endswith(UNTRAINED_LABEL)
    assert any(c.value.startswith("In ") and " of 16 blocks" in c.value for c in at.caption)


def field_images(at: AppTest) -> list:
    return [image for image in at.get("image")
            if any(c.startswith(("Residual network:", "Plain twin")) for c in image.captions)]


def test_receptive_panel_shows_both_fields_over_the_photo_for_the_chosen_unit():
    at = switched_on("receptive")
    assert len(field_images(at)) == 2
    assert any("Theoretical field of conv3_block4_out at row 14, column 14: 99×99 px (rows 63…161" in c.value
               for c in at.caption)
    at.selectbox(key=f"field_{PHOTO}_layer").set_value("conv2_block1_out").run()
    at.number_input(key=f"field_{PHOTO}_row_conv2_block1_out").set_value(3).run()
    at.number_input(key=f"field_{PHOTO}_column_conv2_block1_out").set_value(4).run()
    assert not at.exception
    # conv2_block1_out: 19 px from -9 at jump 4 (tests/test_table.py); row 3 → -9 + 12, column 4 → -9 + 16.
    assert any("conv2_block1_out at row 3, column 4: 19×19 px (rows 3…21, columns 7…25" in c.value
               for c in at.caption)
    pictures = field_images(at)
    assert len(pictures) == 2 and pictures[0].captions[0].startswith("Residual network: 50% of the gradient")


def test_architecture_page_shows_the_fields_of_a_random_network_and_its_twin():
    at = AppTest.from_file(str(ROOT / "app" / "views" / "explore.py"), default_timeout=300).run()
    next(s for s in at.selectbox if s.label == "Architecture").set_value("resnet20").run()
    assert not field_images(at)  # nothing is built until asked for
    at.toggle(key="receptive").set_value(True).run()
    assert not at.exception, at.exception
    # resnet20's row's field_layer, conv3_block3_out (16×16), at its middle: conv3_block2_out's 29 px (see
    # tests/test_cli_receptive.py) and two more 3×3 convolutions at jump 2, 8 px wider
    assert any("conv3_block3_out at row 8, column 8: 37×37 px (rows -1…35, columns -1…35" in c.value
               for c in at.caption)
    pictures = field_images(at)
    assert len(pictures) == 2 and any("random pixels" in m.value for m in at.markdown)


@pytest.fixture(autouse=True)
def fresh_caches():
    import streamlit as st

    st.cache_data.clear()  # each test computes its own results, so each computes through the page
