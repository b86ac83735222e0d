"""The gradient lab page in Streamlit's AppTest: start a tiny run, watch progress and charts, switch BatchNorm off,
stop a long run and keep what it did."""

import time

from streamlit.testing.v1 import AppTest

PAGE = "../app/views/gradients.py"


def tiny_lab(steps=3):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    at.selectbox(key="arch").set_value("resnet20")
    at.number_input(key="steps").set_value(steps)
    at.select_slider(key="batch_size").set_value(4)
    return at.run()


def background(at):
    return at.session_state["gradient_run"]


def wait_until(condition, timeout=180):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the run did not get there in time"
        time.sleep(0.2)


def charts(at):
    return at.get("plotly_chart")


def test_a_tiny_run_shows_progress_then_both_nets_curves_norms_and_heat_maps():
    at = tiny_lab(steps=3)
    at.button(key="start").click().run()
    assert not at.exception and not at.error
    assert at.get("progress"), "progress is shown from the start"
    run = background(at)
    assert run.wait(180) and run.error is None
    at.run()
    assert not at.exception
    assert at.get("progress")[0].proto.value == 100
    assert "step 3 of 3" in at.get("progress")[0].proto.text
    # loss, accuracy, norm vs depth, and one heat map per net
    assert len(charts(at)) == 5
    assert {r.net for r in run.records} == {"resnet20", "plain20"}
    assert len(at.get("download_button")) == 2
    assert not at.button(key="start").disabled and at.button(key="stop").disabled


def test_the_batchnorm_switch_changes_the_run():
    at = tiny_lab(steps=1)
    at.toggle(key="batch_norm").set_value(False)
    at.checkbox(key="plain").uncheck()
    at.button(key="start").click().run()
    run = background(at)
    assert run.config.batch_norm is False and run.config.variants == ("residual",)
    assert run.wait(180) and run.error is None
    at.run()
    assert any("BatchNorm off" in caption.value for caption in at.caption)


def test_stop_ends_a_long_run_and_keeps_its_records_across_other_controls():
    at = tiny_lab(steps=300)
    at.checkbox(key="residual").uncheck()
    at.button(key="start").click().run()
    run = background(at)
    assert at.button(key="start").disabled and not at.button(key="stop").disabled
    wait_until(lambda: run.records or not run.running)
    at.button(key="stop").click().run()
    assert run.wait(60) and run.stopped == "asked" and run.error is None
    kept = len(run.records)
    assert 1 <= kept < 300
    at.number_input(key="seed").set_value(7).run()  # another control changes: the stopped run stays on the page
    assert not at.exception
    assert any("Stopped at your request" in warning.value for warning in at.warning)
    assert len(charts(at)) == 4 and len(background(at).records) == kept
    assert any("seed 0" in caption.value for caption in at.caption)


def test_a_refused_run_says_why():
    at = tiny_lab()
    at.checkbox(key="residual").uncheck()
    at.checkbox(key="plain").uncheck()
    at.button(key="start").click().run()
    assert not at.exception
    assert "pick at least one net" in at.error[0].value
    assert "gradient_run" not in at.session_state


def test_a_run_on_a_missing_folder_shows_the_reason(tmp_path):
    at = tiny_lab()
    at.radio(key="data").set_value("folder").run()
    at.text_input(key="folder").input(str(tmp_path / "nowhere"))
    at.button(key="start").click().run()
    assert background(at).wait(60)
    at.run()
    assert "is not a folder" in at.error[0].value
