"""The Gradient lab in Chromium: change the settings, start a run, watch it progress, stop it."""

import re

import pytest

pytestmark = pytest.mark.e2e

STEPS = 200  # far more than the test waits for: the run is stopped by hand


def test_start_and_stop_a_run(ui):
    ui.open("gradients", title="Gradient lab")
    ui.set_numbers({"Steps": STEPS, "Seed": 7})

    ui.button("Start").click()
    progress = ui.page.get_by_test_id("stProgress")
    # The settings reached the run: its caption and its progress bar say so.
    ui.page.get_by_text(re.compile(r"This run: .*seed 7")).wait_for(timeout=60_000)
    progress.get_by_text(re.compile(rf"step [1-9]\d* of {STEPS}")).wait_for(timeout=120_000)
    ui.button("Stop").click()

    # The stopped nets are judged on the held-out images first (lesions, the line): a minute or more on a busy machine.
    stopped = ui.page.get_by_text(re.compile(r"Stopped at your request after (\d+) step"))
    stopped.wait_for(timeout=180_000)
    # Once the run has ended, the page reruns in full: Start comes back, and the downloads appear.
    ui.button("Download CSV").wait_for(timeout=60_000)
    ui.wait_idle()
    done = int(re.search(r"after (\d+) step", stopped.inner_text())[1])
    assert 1 <= done < STEPS
    assert re.search(rf"step {done} of {STEPS}", progress.inner_text())
    assert ui.button("Start").is_enabled()
    assert ui.button("Stop").is_disabled()
    # Loss, accuracy, norm-vs-depth and one heat map per net keep what was done; then what the stopped nets do on
    # the held-out images: both accuracies, both confusion matrices, per class, lesions, the line, the sanity check.
    assert ui.button("Download JSON").count() == 1
    ui.page.get_by_text("What the nets learned: the held-out images").wait_for(timeout=60_000)
    for net in ("resnet20", "plain20"):
        assert re.fullmatch(r"\d+(\.\d)?%", ui.metric(f"{net}: held-out accuracy"))
    assert ui.page.locator(".js-plotly-plot").count() >= 4 + 2 + 4
    ui.assert_healthy()
    ui.screenshot("gradient_lab")

    # The trained nets stay for the session: on the Predict page (reached by the sidebar, in the same session) the
    # residual one is a choice of network, and answers the sample photo in the run's own classes.
    ui.rerun_after(ui.page.get_by_test_id("stSidebarNav").get_by_text("Predict", exact=True).click)
    ui.choose("Network", "resnet20 — the residual net you trained")
    ui.page.get_by_text(re.compile(r"resnet20, trained in this session: \d+ classes")).wait_for(timeout=60_000)
    labels = ui.page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')]
        .filter(plot => plot.data && plot.data[0].type === 'bar').map(plot => plot.data[0].y)""")
    assert len(labels) == 1 and 1 <= len(labels[0]) <= 5
    assert ui.page.get_by_text("What the network saw (32×32)").count() == 1
    ui.assert_healthy()
