"""The gradient lab page in Streamlit's AppTest: start a tiny run, watch progress and charts, switch BatchNorm off,
stop a long run and keep what it did; train on an uploaded zip or folder, or on a data set of RESNET_DATA_ROOT; and
refuse what a hand-made message could ask for instead of what the page offers.

AppTest drives st.file_uploader (streamlit 1.67: `set_value`/`upload` with name, bytes and MIME type), so uploads go
through the page as a browser's would."""

import time

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_uploads import BLUE, RED, png, zipped

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
    # loss, accuracy, norm vs depth, one heat map per net; then, judged on the held-out images, one confusion matrix
    # per net, accuracy per class, lesions, the line and the sanity check
    assert len(charts(at)) == 5 + 2 + 4
    assert {r.net for r in run.records} == {"resnet20", "plain20"}
    assert len(at.get("download_button")) == 2
    assert not at.button(key="start").disabled and at.button(key="stop").disabled


def test_a_finished_run_shows_each_nets_held_out_numbers_opens_a_confusion_cell_and_draws_the_slice():
    at = tiny_lab(steps=2)
    at.select_slider(key="holdout").set_value(0.1)
    at.toggle(key="slice").set_value(True)
    at.select_slider(key="slice_side").set_value(3)
    at.button(key="start").click().run()
    run = background(at)
    assert run.wait(300) and run.error is None
    at.run()
    assert not at.exception
    assert run.config.holdout == 0.1 and run.config.slice_side == 3 and run.config.line_points == 21
    nets = run.trained
    assert set(nets) == {"resnet20", "plain20"}
    shown = {metric.label.split(":")[0]: metric.value for metric in at.metric}
    assert shown == {name: f"{net.result.accuracy:.1%}" for name, net in nets.items()}
    assert len(charts(at)) == 5 + 2 + 4 + 2  # and one slice per net
    assert all(net.slice.loss.shape == (3, 3) and len(net.line) == 21 for net in nets.values())
    # open the cell of the first held-out image: it is among the images shown, each with its CAM
    net = nets["plain20"]
    true, answered = int(net.heldout.labels[0]), int(net.result.predictions[0])
    at.selectbox(key="cell_net").set_value("plain20")
    at.selectbox(key="cell_true").set_value(true)
    at.selectbox(key="cell_answered").set_value(answered).run()
    assert not at.exception
    (pictures,) = at.get("image")[:1]
    expected = min(12, int(net.result.confusion[true, answered]))
    assert len(pictures.proto.imgs) == expected and pictures.proto.imgs[0].caption == "image 0"


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
    assert len(charts(at)) == 4 + 5 and len(background(at).records) == kept
    assert any("seed 0" in caption.value for caption in at.caption)


def test_a_refused_run_says_why():
    at = tiny_lab()
    at.checkbox(key="residual").uncheck()
    at.checkbox(key="plain").uncheck()
    at.button(key="start").click().run()
    assert not at.exception
    assert "pick at least one net" in at.error[0].value
    assert "gradient_run" not in at.session_state


def send_raw(widget, value: str):
    """Make `widget` send `value` on the next run, as a hand-made websocket message could, whether or not it is one of
    the widget's options (the browser's widget only ever sends an option)."""
    class Raw(type(widget)):
        @property
        def _widget_state(self):
            state = super()._widget_state
            state.string_value = value
            return state

    widget.__class__ = Raw


def test_the_page_offers_no_free_text_path_and_takes_a_folder_or_a_zip():
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.text_input and not at.text_area  # nowhere to type a path
    assert at.radio(key="data").options == ["generated shapes (offline)", "random noise (the probe batch)",
                                            "CIFAR-10 (if cached)", "my own images (upload a folder or a .zip)"]
    assert not at.get("file_uploader")
    at.radio(key="data").set_value("upload").run()
    folder, archive = at.get("file_uploader")
    assert folder.accept_directory and not archive.accept_directory and archive.allowed_type == [".zip"]


def upload_lab(steps=1):
    at = tiny_lab(steps)
    at.checkbox(key="plain").uncheck()
    return at.radio(key="data").set_value("upload").run()


def finished(at):
    run = background(at)
    assert run.wait(180)
    return run, at.run()


def test_a_run_trains_on_an_uploaded_zip_shows_its_classes_and_names_the_files_left_out():
    at = upload_lab()
    archive = zipped({"pets/cats/0.png": png(RED), "pets/cats/1.png": png(RED), "pets/dogs/0.png": png(BLUE),
                      "pets/dogs/notes.txt": b"not an image", "../escape.png": png(BLUE)})
    at.file_uploader(key="upload_zip").set_value(("pets.zip", archive, "application/zip")).run()
    at.button(key="start").click().run()
    assert not at.exception and not at.error
    run, at = finished(at)
    assert run.error is None and len(run.records) == 1
    assert run.config.data == "upload" and run.class_names == ("cats", "dogs")
    assert run.class_counts == {"cats": 2, "dogs": 1}
    shown_classes = at.dataframe[0].value
    assert list(shown_classes["class"]) == ["cats", "dogs"] and list(shown_classes["images"]) == [2, 1]
    assert "2 file(s) of your upload were left out" in at.warning[0].value
    left_out = at.code[0].value.splitlines()
    assert [line.split(":")[0] for line in left_out] == ["../escape.png", "pets/dogs/notes.txt"]
    assert len(charts(at)) == 4 + 5
    # cats kept two images, one of them held out; dogs' one image is all it has, so it is trained on
    assert run.trained["resnet20"].heldout.counts == (1, 0)


def test_a_run_trains_on_an_uploaded_folder():
    at = upload_lab()
    at.file_uploader(key="upload_folder").set_value(
        [(f"pets/{name}/{i}.png", png(colour), "image/png") for name, colour in (("cats", RED), ("dogs", BLUE))
         for i in range(2)]).run()
    at.button(key="start").click().run()
    run, at = finished(at)
    assert run.error is None and run.class_names == ("cats", "dogs") and not at.warning


def test_an_upload_left_with_fewer_than_two_classes_is_refused_and_its_files_named():
    at = upload_lab()
    at.file_uploader(key="upload_zip").set_value(("one.zip", zipped({"pets/cats/0.png": png(RED),
                                                                     "pets/dogs/0.png": b"GIF89a broken"}),
                                                  "application/zip")).run()
    at.button(key="start").click().run()
    run, at = finished(at)
    assert "fewer than two classes" in at.error[0].value and not run.records
    assert at.code[0].value.startswith("pets/dogs/0.png: ")


def test_start_without_an_upload_or_with_both_kinds_says_what_to_do():
    at = upload_lab()
    at.button(key="start").click().run()
    assert "upload a folder" in at.error[0].value and "gradient_run" not in at.session_state
    at.file_uploader(key="upload_zip").set_value(("a.zip", zipped({}), "application/zip"))
    at.file_uploader(key="upload_folder").set_value([("pets/cats/0.png", png(RED), "image/png")]).run()
    at.button(key="start").click().run()
    assert "not both" in at.error[0].value and "gradient_run" not in at.session_state


@pytest.mark.parametrize("key, value", [("data", "/proc/self"), ("data", "folder"), ("arch", "../../etc"),
                                        ("initializer", "/etc/passwd")])
def test_a_hand_made_value_outside_the_options_is_refused_before_anything_opens(key, value):
    at = tiny_lab()
    widget = at.radio(key=key) if key == "data" else at.selectbox(key=key)
    send_raw(widget, value)
    at.button(key="start").click().run()
    assert not at.exception
    assert f"not one of the choices for {key}" in at.error[0].value
    assert "gradient_run" not in at.session_state


@pytest.fixture()
def data_root(tmp_path, monkeypatch, image_folder_factory):
    root = tmp_path / "sets"
    image_folder_factory(root / "pets")
    image_folder_factory(tmp_path / "secret")
    monkeypatch.setenv("RESNET_DATA_ROOT", str(root))
    return root


def test_a_data_set_of_the_data_root_is_picked_from_a_list_and_trained_on(data_root):
    at = tiny_lab()
    at.checkbox(key="plain").uncheck()
    at.radio(key="data").set_value("server").run()
    assert at.selectbox(key="server_folder").options == ["pets"] and not at.text_input
    at.button(key="start").click().run()
    run, at = finished(at)
    assert run.error is None and run.class_names == ("cats", "dogs")
    assert run.config.data == "server data set pets"
    assert str(data_root) not in " ".join(caption.value for caption in at.caption)


@pytest.mark.parametrize("value", ["../secret", "pets/../../secret", "/etc"])
def test_a_hand_made_data_set_name_outside_the_list_is_refused(data_root, value):
    at = tiny_lab()
    at.radio(key="data").set_value("server").run()
    send_raw(at.selectbox(key="server_folder"), value)
    at.button(key="start").click().run()
    assert "not one of the choices for server_folder" in at.error[0].value
    assert "gradient_run" not in at.session_state


def test_a_limit_set_to_a_negative_number_is_one_line_for_the_visitor_and_the_variable_goes_to_the_log(monkeypatch,
                                                                                                        caplog):
    from app import notices
    from app.resources import limits

    monkeypatch.setenv("RESNET_MAX_STEPS", "-1")
    limits.clear()
    notices.LOG.addHandler(caplog.handler)  # Streamlit's loggers do not propagate to pytest's
    try:
        at = AppTest.from_file(PAGE, default_timeout=120).run()
    finally:
        notices.LOG.removeHandler(caplog.handler)
        limits.clear()  # the next test reads the real environment again
    assert not at.exception
    assert [e.value for e in at.error] == ["The Gradient lab cannot train on this server just now: one of this "
                                           "server's settings is not valid; the person running this server can fix "
                                           "it (the README says how)."]
    assert not at.number_input and not at.button  # nothing to start a run with
    assert "RESNET_MAX_STEPS='-1' must be above 0" in caplog.text
