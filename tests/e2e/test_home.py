"""The Overview page in Chromium: it loads, and picking another network redraws its figures."""

import pytest

pytestmark = pytest.mark.e2e


def test_overview_shows_the_network_picked(ui):
    ui.open(title="ResNet Explorer")
    assert ui.metric("Parameters") == "25,636,712"  # keras.applications.ResNet50's count
    assert ui.metric("Input") == "224×224×3"

    ui.choose("Network", "ResNet-20 (CIFAR)")

    assert ui.metric("Input") == "32×32×3"
    assert ui.metric("Parameters") != "25,636,712"
    assert ui.page.get_by_test_id("stDataFrame").count() == 1  # the table of every network
    ui.screenshot("overview")
