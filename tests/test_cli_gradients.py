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
