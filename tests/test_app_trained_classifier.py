"""The Predict page with a net this session's gradient lab trained: a choice of its own, its classes, its views."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from resnet.limits import RunRegistry
from resnet.training import BackgroundRun, RunConfig
from tests.test_app_panels import PHOTO
from tests.test_app_predict import PAGE, array, charts, offline_server, page_texts  # noqa: F401 -- autouse


@pytest.fixture(scope="module")
def finished_run():
    """A real lab run, as the Gradient lab page leaves it in the session once it is over."""
    run = BackgroundRun(RunConfig(arch="resnet20", steps=3, batch_size=16, holdout=0.01), RunRegistry(2),
                        "test-session")
    run._thread.join(timeout=300)
    assert not run.running and run.error is None and set(run.trained) == {"resnet20", "plain20"}
    return run


def with_the_run(run, choice: str | None = None) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=300)
    at.session_state["gradient_run"] = run
    at.run()
    if choice is not None:
        at.selectbox[0].set_value(choice).run()
    assert not at.exception, at.exception
    return at


def test_without_a_finished_run_only_the_imagenet_networks_are_offered():
    at = AppTest.from_file(str(PAGE), default_timeout=300)
    at.run()
    assert not any(option.startswith("trained:") for option in at.selectbox[0].options)


def test_the_trained_nets_are_offered_and_answer_in_their_own_classes(finished_run):
    at = with_the_run(finished_run)
    assert {"resnet20 — the residual net you trained", "plain20 — the plain net you trained"} <= set(
        at.selectbox[0].options)
    at.selectbox[0].set_value("trained:resnet20").run()
    assert not at.exception, at.exception
    net = finished_run.trained["resnet20"]
    table = at.dataframe[0].value
    assert len(table) == 5 and set(table["class"]) <= set(net.result.class_names)
    assert any(f"held-out accuracy {net.result.accuracy:.1%}" in t for t in page_texts(at))
    assert "What the network saw (32×32)" in _image_captions(at)
    assert not [t for t in at.toggle if t.label.startswith("Compute in bfloat16")]  # a lab net answers in fp32
    [cam] = charts(at, "cam_0")
    assert array(cam["data"][0]["z"]).shape == (8, 8)  # resnet20's last map at the lab's 32 px


def test_lesions_are_the_pairs_held_out_lesions_and_fields_show_both_trained_nets(finished_run):
    at = with_the_run(finished_run, "trained:resnet20")
    at.toggle(key=f"lesion_{PHOTO}").set_value(True).run()
    assert not at.exception, at.exception
    [lesions] = charts(at, "lesion_heldout_0")
    shown = {trace["name"]: array(trace["y"]).tolist() for trace in lesions["data"]}
    assert set(shown) == {f"{name} without the block" for name in finished_run.trained}
    for name, net in finished_run.trained.items():
        assert len(net.lesions) == 9
        np.testing.assert_allclose(shown[f"{name} without the block"], [lesion.accuracy for lesion in net.lesions])

    at.toggle(key=f"receptive_{PHOTO}").set_value(True).run()
    assert not at.exception, at.exception
    assert at.selectbox(key=f"field_{PHOTO}_layer").value == "conv3_block3_out"  # resnet20's row's field_layer
    captions = _image_captions(at)
    assert sum(c.startswith("resnet20, as you trained it") for c in captions) == 1
    assert sum(c.startswith("plain20, as you trained it") for c in captions) == 1


def test_a_plain_net_says_it_has_no_shortcuts(finished_run):
    at = with_the_run(finished_run, "trained:plain20")
    at.toggle(key=f"shortcuts_{PHOTO}").set_value(True).run()
    assert not at.exception, at.exception
    assert any("plain net: it has no shortcuts" in i.value for i in at.info)


def _image_captions(at: AppTest) -> list[str]:
    return [caption for element in at.get("image") for caption in element.captions]


def test_lab_and_imagenet_answers_of_one_photo_are_kept_apart(finished_run):
    at = with_the_run(finished_run, "trained:resnet20")
    lab_classes = list(at.dataframe[0].value["class"])
    at.selectbox[0].set_value("resnet50").run()
    assert list(at.dataframe[0].value["class"]) != lab_classes
    assert np.isin(at.dataframe[0].value["index"], np.arange(1000)).all()
