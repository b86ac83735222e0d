"""`python -m resnet predict`: the same top-5 as keras.applications, one-line errors for every bad input."""

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from resnet.__main__ import main
from tests.bad_images import bad_inputs

SAMPLES = Path(__file__).resolve().parents[1] / "assets" / "samples"
CAT, CUP = SAMPLES / "cat_chelsea.jpg", SAMPLES / "coffee_cup.jpg"


def run(capsys, *argv):
    code = main(["predict", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_top5_equals_keras_applications_on_the_same_file(capsys, official_resnet50_h5):
    code, out, err = run(capsys, CAT, CUP, "--weights", official_resnet50_h5, "--json", "--crop", "squash")
    assert code == 0, err
    records = json.loads(out)
    assert [r["file"] for r in records] == [str(CAT), str(CUP)]

    reference = keras.applications.ResNet50(weights=str(official_resnet50_h5))
    for record, path in zip(records, (CAT, CUP), strict=True):
        img = keras.utils.load_img(path, target_size=(224, 224), interpolation="bilinear")
        x = keras.applications.resnet50.preprocess_input(keras.utils.img_to_array(img)[np.newaxis])
        expected = reference.predict(x, verbose=0)[0]
        top5 = np.argsort(-expected)[:5]
        assert [t["index"] for t in record["top"]] == top5.tolist()
        np.testing.assert_allclose([t["probability"] for t in record["top"]], expected[top5], atol=1e-5)
        assert record["latency_ms"] > 0 and record["device"].startswith(("CPU", "GPU"))
        assert record["pretrained"] is True and record["precision"] == "fp32"
        assert record["engine"] == "tf"  # two photos do not earn a conversion back (engines.KINDS)


def test_text_output_lists_top_k_with_label_index_probability_device_and_latency(capsys, official_resnet50_h5):
    code, out, err = run(capsys, CAT, "--weights", official_resnet50_h5, "--top", "3", "--engine", "tf")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith(f"{CAT}: ") and " ms for a batch of 1" in lines[0] and ", tf fp32, " in lines[0]
    ranked = lines[1:]
    assert [line.split(".")[0].strip() for line in ranked] == ["1", "2", "3"]
    assert all("#" in line and line.endswith("%") for line in ranked)
    assert "UNTRAINED" not in out


def test_without_weights_the_message_says_how_to_get_them_and_exits_2(capsys, offline):
    code, out, err = run(capsys, CAT)
    assert code == 2 and out == ""
    [line] = err.strip().splitlines()[-1:]
    assert line.startswith("error: ") and "RESNET_WEIGHTS" in line and "--allow-untrained" in line


def test_allow_untrained_marks_every_result(capsys, offline):
    code, out, err = run(capsys, CAT, "--allow-untrained", "--engine", "tf", "--json")
    assert code == 0, err
    [record] = json.loads(out)
    assert record["pretrained"] is False and len(record["top"]) == 5
    assert "note: " in err and "RESNET_WEIGHTS" in err
    code, out, _ = run(capsys, CAT, "--allow-untrained", "--engine", "tf")
    assert "UNTRAINED (random weights) — not a real prediction" in out


@pytest.mark.parametrize("case", list(bad_inputs()))
def test_each_bad_input_is_one_error_line_and_exit_2(capsys, tmp_path, case):
    name, data, fragment = bad_inputs()[case]
    path = tmp_path / name
    path.write_bytes(data)
    code, out, err = run(capsys, path)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: {name}: ") and fragment in err


def test_a_missing_file_is_one_error_line(capsys, tmp_path):
    code, out, err = run(capsys, tmp_path / "nowhere.jpg")
    assert code == 2 and err.startswith("error: ") and "nowhere.jpg" in err and err.count("\n") == 1


def test_bad_files_do_not_stop_the_good_ones(capsys, tmp_path, official_resnet50_h5):
    name, data, fragment = bad_inputs()["truncated"]
    (tmp_path / name).write_bytes(data)
    shutil.copy(CAT, tmp_path / "cat.jpg")
    code, out, err = run(capsys, tmp_path / name, tmp_path / "cat.jpg", "--weights", official_resnet50_h5,
                         "--engine", "tf", "--json")
    assert code == 2 and fragment in err
    assert [Path(r["file"]).name for r in json.loads(out)] == ["cat.jpg"]


def test_bf16_where_it_is_not_fast_is_one_error_line(capsys, offline):
    from resnet.devices import bf16_unavailable

    reason = bf16_unavailable()
    if reason is None:
        pytest.skip("this machine computes bf16 in hardware: nothing to refuse")
    code, out, err = run(capsys, CAT, "--allow-untrained", "--precision", "bf16")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: bf16 is not offered here") and reason in err


def test_bf16_emulated_by_name_is_labelled_bf16(capsys, offline):
    code, out, err = run(capsys, CAT, "--allow-untrained", "--precision", "bf16", "--engine", "tf", "--json")
    assert code == 0, err
    [record] = json.loads(out)
    assert (record["engine"], record["precision"]) == ("tf", "bf16")


def test_cam_adds_the_top1_heat_map_which_is_grad_cam_at_the_last_feature_map(capsys, official_resnet50_h5):
    from resnet import images
    from resnet.explaining import Explainer

    code, out, err = run(capsys, CAT, "--weights", official_resnet50_h5, "--engine", "tf", "--json", "--cam")
    assert code == 0, err
    [record] = json.loads(out)
    cam = record["cam"]
    assert cam["layer"] == "conv5_block3_out" and cam["class"] == record["top"][0]["index"]
    heat = np.array(cam["map"])
    assert heat.shape == (7, 7) and heat.min() == 0.0 and heat.max() == pytest.approx(1.0)
    model = keras.applications.ResNet50(weights=str(official_resnet50_h5))
    by_gradient = Explainer(model).grad_cam(images.prepare(images.read_image_file(CAT)), cam["class"],
                                            "conv5_block3_out")
    np.testing.assert_allclose(heat, by_gradient, rtol=0, atol=1e-5)
    code, out, err = run(capsys, CAT, "--weights", official_resnet50_h5, "--cam")
    assert code == 2 and err.startswith("error: --cam") and "--json" in err
