"""The Predict page through AppTest: offline (no ImageNet weights), so every result must say UNTRAINED.

AppTest drives st.file_uploader here (streamlit 1.67: `at.file_uploader[0].upload(name, bytes, mime)`), so the bad
inputs go through the real widget.
"""

import base64
import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from resnet import images
from resnet.inference import UNTRAINED_LABEL
from tests.bad_images import bad_inputs

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "app" / "views" / "predict.py"
CUP = ROOT / "assets" / "samples" / "coffee_cup.jpg"


@pytest.fixture(scope="module", autouse=True)
def offline_server(tmp_path_factory):
    """No ImageNet weights anywhere, and the TensorFlow engine (the OpenVINO switch is tested in test_engines)."""
    folder = tmp_path_factory.mktemp("offline")
    patch = pytest.MonkeyPatch()
    for name in ("RESNET_WEIGHTS", "RESNET_WEIGHTS_DIR"):
        patch.delenv(name, raising=False)
    patch.setenv("KERAS_HOME", str(folder / "keras"))
    patch.setenv("RESNET_WEIGHTS_ORIGIN", (folder / "no-mirror").as_uri())
    patch.setenv("RESNET_ENGINE", "tf")
    from app.classifier import get_classifier

    get_classifier.clear()  # a classifier cached by another test module may have been built with weights
    yield
    get_classifier.clear()
    patch.undo()


def page() -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=300)
    at.run()
    assert not at.exception, at.exception
    return at


def charts(at: AppTest, prefix: str) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart") if f"-{prefix}" in c.proto.id]


def array(value) -> np.ndarray:
    """A plotly JSON array: a plain list, or plotly's typed-array form {"dtype", "bdata" (base64), "shape"}."""
    if isinstance(value, dict):
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return flat.reshape([int(n) for n in str(value.get("shape", flat.size)).split(",")])
    return np.array(value, dtype=float)


def page_texts(at: AppTest) -> list[str]:
    return [element.value for kind in ("error", "warning", "info", "caption", "markdown", "title")
            for element in getattr(at, kind) if isinstance(element.value, str)]


def test_missing_weights_are_said_plainly_to_visitors_and_in_full_to_the_operator(tmp_path):
    from app import notices
    from app.classifier import get_classifier

    logged = []

    class Keep(logging.Handler):
        def emit(self, record):
            logged.append(record.getMessage())

    get_classifier.clear()  # built again below, with the operator's log listening
    handler = Keep()
    notices.LOG.addHandler(handler)
    try:
        at = page()
    finally:
        notices.LOG.removeHandler(handler)
    message = at.error[0].value
    assert "no ImageNet weights for ResNet-50" in message and "UNTRAINED" in message
    assert notices.FIX_IT in message
    # Nothing of the server's insides reaches a visitor: no folder, variable, URL or error number.
    home = os.environ["KERAS_HOME"]
    for text in page_texts(at):
        for inside in (home, "RESNET_", "file://", "Errno", "/tmp", "make weights"):
            assert inside not in text, f"{inside!r} shown to visitors in: {text}"
    # The operator's terminal has all of it.
    [note] = [line for line in logged if "no ImageNet weights for resnet50" in line]
    assert "RESNET_WEIGHTS=" in note and "make weights" in note and "could not be fetched" in note


def test_a_sample_gives_five_bars_and_rows_all_labelled_untrained():
    at = page()
    [bars] = charts(at, "top_0")
    assert len(bars["data"][0]["y"]) == 5 and len(bars["data"][0]["x"]) == 5
    assert bars["layout"]["title"]["text"] == UNTRAINED_LABEL
    table = at.dataframe[0].value
    assert len(table) == 5 and list(table["rank"]) == [1, 2, 3, 4, 5]
    assert table["probability"].is_monotonic_decreasing
    assert [w.value for w in at.warning] == [UNTRAINED_LABEL]
    assert any("ms for 1 photo" in c.value for c in at.caption)


def test_grad_cam_follows_the_chosen_class():
    at = page()
    [first] = charts(at, "cam_0")
    assert array(first["data"][0]["z"]).shape == (7, 7)
    second_class = int(at.dataframe[0].value["index"][1])
    at.selectbox(key="cam_class_0_cat_chelsea.jpg").set_value(second_class).run()
    [second] = charts(at, "cam_0")
    assert not np.allclose(array(first["data"][0]["z"]), array(second["data"][0]["z"]))


def test_a_new_photo_in_a_place_starts_from_its_own_top_class():
    at = page()
    cat_choice = at.selectbox(key="cam_class_0_cat_chelsea.jpg")
    second_class = int(at.dataframe[0].value["index"][1])
    cat_choice.set_value(second_class).run()
    at.file_uploader[0].upload("cup.jpg", CUP.read_bytes(), "image/jpeg").run()  # uploads come first: place 0
    assert not at.exception
    cup_top = int(at.dataframe[0].value["index"][0])
    assert at.selectbox(key="cam_class_0_cup.jpg").value == cup_top != second_class
    assert at.selectbox(key="cam_class_0_cup.jpg").options[0].endswith(f"(#{cup_top})")


def test_the_example_photo_steps_aside_for_the_visitors_own_and_samples_they_picked_stay():
    at = page()
    assert [s.value for s in at.subheader] == ["cat_chelsea.jpg"]  # the example the page opens with
    at.file_uploader[0].upload("cup.jpg", CUP.read_bytes(), "image/jpeg").run()
    assert not at.exception
    assert [s.value for s in at.subheader] == ["cup.jpg"] and at.multiselect[0].value == []
    assert not [w.value for w in at.warning if "Session State" in w.value]  # the widget was set the documented way

    chosen = page()
    chosen.multiselect[0].set_value(["cat_chelsea.jpg", "coffee_cup.jpg"]).run()
    chosen.file_uploader[0].upload("cup.jpg", CUP.read_bytes(), "image/jpeg").run()
    assert [s.value for s in chosen.subheader] == ["cup.jpg", "cat_chelsea.jpg", "coffee_cup.jpg"]

    kept = page()  # the example kept on purpose: chosen again after taking it out
    kept.multiselect[0].set_value([]).run()
    kept.multiselect[0].set_value(["cat_chelsea.jpg"]).run()
    kept.file_uploader[0].upload("cup.jpg", CUP.read_bytes(), "image/jpeg").run()
    assert [s.value for s in kept.subheader] == ["cup.jpg", "cat_chelsea.jpg"]


def feature_picture(at: AppTest):
    [picture] = [image for image in at.get("image") if any("most active channels" in c for c in image.captions)]
    return picture.value[0], picture.captions[0]


def test_feature_maps_of_the_chosen_layer_are_one_picture():
    # The pixels are checked in tests/test_pictures.py (FeatureMaps.picture); here, that the page shows the layer.
    at = page()
    assert not [image for image in at.get("image") if any("most active channels" in c for c in image.captions)]
    at.toggle(key="features_0_cat_chelsea.jpg").set_value(True).run()  # computed only when asked for
    assert not charts(at, "maps_0")  # a picture, not megabytes of chart data
    url, caption = feature_picture(at)
    assert caption.startswith("conv1_relu: the 32 most active channels (112×112 each")
    at.selectbox(key="layer_0_cat_chelsea.jpg").set_value("conv5_block3_out").run()
    deeper_url, caption = feature_picture(at)
    assert caption.startswith("conv5_block3_out: the 32 most active channels (7×7 each") and deeper_url != url


def upload_name(name: str) -> str:
    """Streamlit refuses an extension outside `type` before the page runs; a PDF must pose as a .jpg to reach us."""
    return name if name.rsplit(".", 1)[-1] in images.UPLOAD_TYPES else name.replace(".", "-") + ".jpg"


def test_each_bad_upload_shows_one_line_and_the_rest_still_get_results():
    at = page()
    uploader = at.file_uploader[0]
    assert uploader.accept_multiple_files and set(uploader.allowed_type) == {f".{t}" for t in images.UPLOAD_TYPES}
    cases = {case: (upload_name(name), data, fragment) for case, (name, data, fragment) in bad_inputs().items()}
    for name, data, _ in cases.values():
        uploader.upload(name, data, "application/octet-stream")
    uploader.upload("cup.jpg", CUP.read_bytes(), "image/jpeg")
    at.multiselect[0].set_value([])  # the sample cat would be photo 11, over images.MAX_PHOTOS
    at.run()
    assert not at.exception
    errors = [e.value for e in at.error[1:]]  # the first is the missing-weights notice
    assert len(errors) == len(cases)
    for (name, _, fragment), message in zip(cases.values(), errors, strict=True):
        assert message.startswith(f"{name}: ") and fragment in message and "\n" not in message
    assert [s.value for s in at.subheader] == ["cup.jpg"]
    assert len(charts(at, "top_")) == 1

    at.multiselect[0].set_value(["cat_chelsea.jpg"]).run()  # an eleventh photo is refused unread, in one line
    assert at.error[-1].value.startswith("cat_chelsea.jpg: not classified, over 10 photos at once")


def test_with_nothing_chosen_the_page_says_what_to_do():
    at = page()
    at.multiselect[0].set_value([]).run()
    assert not at.get("plotly_chart")
    assert "Upload a photo" in at.info[0].value


def test_start_up_warming_builds_the_classifier_so_the_page_gets_it_at_once(monkeypatch):
    import app.classifier
    from app.classifier import get_classifier, warm_in_background

    get_classifier.clear()  # nothing built yet, and no warming started: as a server process begins
    monkeypatch.setattr(app.classifier, "_warming", None)
    thread = warm_in_background()
    thread.join(timeout=300)
    assert not thread.is_alive() and warm_in_background() is thread  # one thread per server process
    began = time.perf_counter()
    classifier = get_classifier("resnet50")  # called as the page calls it
    assert time.perf_counter() - began < 1.0  # already built: building and warming a ResNet-50 takes seconds
    assert classifier.first_call_ms is not None and not classifier.pretrained


def top5_caption(at: AppTest) -> str:
    return next(c.value for c in at.caption if "ms for 1 photo" in c.value)


def test_the_caption_names_device_engine_and_precision():
    caption = top5_caption(page())
    assert caption.startswith(("CPU", "GPU")) and " · engine tf · fp32 · " in caption


def test_the_bf16_switch_is_offered_only_where_the_hardware_has_it():
    from resnet.devices import bf16_unavailable

    reason = bf16_unavailable()
    at = page()
    [switch] = [t for t in at.toggle if "bfloat16" in t.label]
    assert switch.value is False and switch.proto.disabled == (reason is not None)
    if reason:
        assert reason in switch.proto.help
    else:
        at = switch.set_value(True).run()
        assert " · bf16 · " in top5_caption(at)


def test_bf16_asked_by_environment_where_it_is_slow_is_said_and_fp32_is_used(monkeypatch):
    from resnet.devices import bf16_unavailable

    if bf16_unavailable() is None:
        pytest.skip("this machine computes bf16 in hardware")
    monkeypatch.setenv("RESNET_PRECISION", "bf16")
    at = page()
    assert any(w.value.startswith("RESNET_PRECISION=bf16 was asked for, but ") for w in at.warning)
    assert " · fp32 · " in top5_caption(at)


def test_a_widget_that_changes_only_an_explanation_classifies_nothing_again():
    from app import photo_cache

    at = page()
    before = dict(at.session_state[photo_cache.PREDICTIONS])
    caption = top5_caption(at)
    second = next(iter(before.values())).top[1].index
    [cam_class] = [s for s in at.selectbox if s.label == "Grad-CAM for the class"]
    at = cam_class.set_value(second).run()
    assert not at.exception
    after = at.session_state[photo_cache.PREDICTIONS]
    assert after.keys() == before.keys() and all(after[key] is before[key] for key in before)  # the same answers
    assert top5_caption(at) == caption
    assert ("grad-cam", second) in {key[1:] for key in at.session_state[photo_cache.EXPLANATIONS]}
    # Another crop is another answer; the photos that left the page leave the cache.
    crop = next(r for r in at.radio if r.label.startswith("How a photo becomes"))
    at = crop.set_value("squash").run()
    assert len(at.session_state[photo_cache.PREDICTIONS]) == 1
    assert next(iter(at.session_state[photo_cache.PREDICTIONS]))[2] == "squash"
