"""`python -m resnet gradients`, run through the real argument parser."""

import json

import numpy as np
import pytest

from resnet.__main__ import main
from resnet.commands.gradients import compare_report
from resnet.training import init_norms


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_steps_zero_json_gives_the_init_norms_of_the_probe_batch_in_depth_order(capsys):
    code, out, _ = run(capsys, "gradients", "--arch", "resnet20", "--steps", "0", "--data", "noise", "--json")
    assert code == 0
    (record,) = json.loads(out)["records"]
    assert (record["net"], record["step"]) == ("resnet20", 0)
    layers = [entry["layer"] for entry in record["norms"]]
    assert len(layers) == 20 and layers[0] == "conv1_conv" and layers[-1] == "predictions"
    expected = init_norms("resnet20", plain=False, batch_norm=True, initializer="he_normal", batch_size=64, seed=0)
    assert layers == [layer for layer, _ in expected]
    np.testing.assert_allclose([entry["norm"] for entry in record["norms"]], [n for _, n in expected], rtol=1e-3)


def test_a_short_plain_run_prints_each_step(capsys):
    code, out, _ = run(capsys, "gradients", "--arch", "resnet20", "--plain", "--no-bn", "--init", "glorot_uniform",
                       "--steps", "2", "--batch", "4", "--optimizer", "adam", "--lr", "0.001", "--json")
    assert code == 0
    document = json.loads(out)
    assert document["config"]["batch_norm"] is False and document["config"]["optimizer"] == "adam"
    assert [(r["net"], r["step"]) for r in document["records"]] == [("plain20", 1), ("plain20", 2)]
    assert all(np.isfinite(r["loss"]) and len(r["norms"]) == 20 for r in document["records"])


def test_text_output_lists_every_layer_under_its_step(capsys):
    code, out, _ = run(capsys, "gradients", "--arch", "resnet20", "--steps", "0", "--batch", "8")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("resnet20 at initialisation: loss ")
    assert lines[1].split()[:2] == ["1", "conv1_conv"] and lines[20].split()[:2] == ["20", "predictions"]
    assert float(lines[1].split()[2]) > 0


def test_the_command_line_still_trains_on_a_folder_it_is_given(capsys, image_folder):
    """The CLI runs on the user's own machine: a path is what --data takes there."""
    code, out, _ = run(capsys, "gradients", "--arch", "resnet20", "--steps", "1", "--batch", "4",
                       "--data", str(image_folder), "--json")
    assert code == 0
    document = json.loads(out)
    assert document["config"]["data"] == str(image_folder) and len(document["records"]) == 1


@pytest.mark.parametrize("argv, message", [
    (["--steps", "100000"], "steps 100000 is over this server's limit"),
    (["--data", "/nowhere/at/all"], "/nowhere/at/all is not a folder"),
    (["--arch", "resnet9"], "unknown architecture 'resnet9'"),
    (["--compare", "20"], "at least two depths"),
    (["--compare", "20,deep", "--steps", "20"], "depths separated by commas"),
    (["--compare", "20,56", "--steps", "3"], "--steps of at least"),
])
def test_bad_input_is_one_error_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, "gradients", *argv)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_compare_trains_both_twins_at_each_depth_and_reports_the_order(capsys):
    code, out, _ = run(capsys, "gradients", "--compare", "20,32", "--steps", "10", "--batch", "2", "--json")
    assert code == 0
    document = json.loads(out)
    assert set(document["final_loss"]) == {"resnet20", "plain20", "resnet32", "plain32"}
    plain, residual = document["checks"]
    assert plain["holds"] == (document["final_loss"]["plain32"] > document["final_loss"]["plain20"])
    assert residual["holds"] == (document["final_loss"]["resnet32"] <= document["final_loss"]["resnet20"])


def test_compare_report_states_he_et_al_order():
    report = compare_report({"resnet20": 0.5, "plain20": 0.6, "resnet56": 0.4, "plain56": 2.2}, [20, 56])
    assert [check["holds"] for check in report["checks"]] == [True, True]
    assert report["checks"][0]["claim"] == "plain-56 (2.2000) above plain-20 (0.6000)"
    report = compare_report({"resnet20": 0.5, "plain20": 0.6, "resnet56": 0.7, "plain56": 0.3}, [20, 56])
    assert [check["holds"] for check in report["checks"]] == [False, False]


def test_holdout_lesions_line_and_save_in_the_json_agree_with_keras_on_the_same_images(capsys, tmp_path):
    import keras

    import resnet
    from resnet.datasets import OfflineShapes
    from tests.conftest import keras_evaluate

    code, out, _ = run(capsys, "gradients", "--arch", "resnet20", "--steps", "3", "--batch", "8", "--holdout", "0.01",
                       "--lesions", "--line", "5", "--save", str(tmp_path), "--json")
    assert code == 0
    document = json.loads(out)
    assert document["config"]["holdout"] == 0.01
    net = document["nets"]["resnet20"]
    heldout = net["heldout"]
    assert heldout["classes"][0] == "horizontal stripes" and heldout["counts"] == [4] * 10
    confusion = np.array(heldout["confusion"])
    assert confusion.sum(axis=1).tolist() == heldout["counts"]
    assert heldout["accuracy"] == pytest.approx(np.trace(confusion) / confusion.sum())

    # The saved net, opened by Keras and evaluated by Keras alone on the same held-out images, drawn again here.
    images = OfflineShapes(32).hold_out(0.01, seed=0, most=200)
    saved = keras.saving.load_model(tmp_path / "resnet20.keras")
    loss, accuracy = keras_evaluate(saved, images.images, images.labels)
    assert heldout["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert heldout["loss"] == pytest.approx(loss, rel=1e-4)

    # The line: alpha 1 is the trained net, alpha 0 the same seed's initial weights, each as Keras evaluates it.
    line = {point["alpha"]: point["loss"] for point in net["line"]}
    assert min(line) == -0.5 and max(line) == 1.5 and len(line) == 5
    assert line[1.0] == pytest.approx(loss, rel=1e-4)
    initial = resnet.build("resnet20", kernel_initializer="he_normal", input_shape=(32, 32, 3), classes=10, seed=0)
    assert line[0.0] == pytest.approx(keras_evaluate(initial, images.images, images.labels)[0], rel=1e-4)

    assert [lesion["block"] for lesion in net["lesions"]] == [f"conv{s}_block{b}" for s in (2, 3, 4) for b in (1, 2, 3)]
    assert all(0 <= lesion["accuracy"] <= 1 for lesion in net["lesions"])


def test_text_output_ends_with_the_held_out_numbers_of_each_net(capsys):
    code, out, _ = run(capsys, "gradients", "--arch", "resnet20", "--plain", "--steps", "1", "--batch", "4",
                       "--holdout", "0.01", "--slice", "3", "--sanity")
    assert code == 0
    lines = out.splitlines()
    summary = [line for line in lines if "held-out images" in line]
    assert len(summary) == 1 and summary[0].startswith("plain20 on 40 held-out images: loss ")
    assert sum("images  accuracy" in line for line in lines) == 10  # one line per class
    assert any(line.strip().startswith("2-D slice 3×3: loss ") for line in lines)
    sanity = [line for line in lines if line.strip().startswith("CAM with ")]
    assert len(sanity) == 1 + 1 + 9 + 1 and "nothing" in sanity[0] and "+1.000" in sanity[0]


@pytest.mark.parametrize("argv, message", [
    (["--holdout", "0.9"], "held-out share must be above 0 and at most 0.5"),
    (["--line", "1000"], "the line takes 3 to 41 points"),
    (["--slice", "4"], "side must be odd"),
])
def test_measures_over_their_bounds_are_refused(capsys, argv, message):
    code, out, err = run(capsys, "gradients", "--steps", "1", *argv)
    assert code == 2 and out == "" and message in err
