"""`python -m resnet lesion`: the JSON against keras.applications with each removed block's last BatchNorm silenced."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from resnet.__main__ import main
from resnet.inference import UNTRAINED_LABEL
from resnet.weights import class_names
from tests.test_lesion import silenced

SAMPLES = Path(__file__).resolve().parents[1] / "assets" / "samples"
CAT = SAMPLES / "cat_chelsea.jpg"


def run(capsys, *argv):
    code = main(["lesion", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def keras_input(path):
    img = keras.utils.load_img(path, target_size=(224, 224), interpolation="bilinear")  # what --crop squash does
    return keras.applications.resnet50.preprocess_input(keras.utils.img_to_array(img)[np.newaxis])


def check_top(items, probabilities):
    best = np.argsort(-probabilities)[:5]
    assert [item["index"] for item in items] == best.tolist()
    np.testing.assert_allclose([item["probability"] for item in items], probabilities[best], rtol=0, atol=1e-5)


def test_json_equals_keras_applications_with_the_blocks_silenced(capsys, official_resnet50_h5):
    code, out, err = run(capsys, CAT, "--weights", official_resnet50_h5, "--crop", "squash", "--json",
                         "--blocks", "conv4_block3,conv3_block1,conv2_block2+conv5_block1")
    assert code == 0, err
    document = json.loads(out)
    assert document["file"] == str(CAT) and document["pretrained"] is True
    assert [lesion["block"] for lesion in document["lesions"]] == ["conv4_block3", "conv3_block1",
                                                                    "conv2_block2+conv5_block1"]

    reference = keras.applications.ResNet50(weights=str(official_resnet50_h5))
    x = keras_input(CAT)
    intact = reference(x, training=False).numpy()[0]
    check_top(document["intact"], intact)
    assert all(item["label"] == class_names()[item["index"]][1] for item in document["intact"])
    silencing = [["conv4_block3_3_bn"], ["conv3_block1_3_bn"], ["conv2_block2_3_bn", "conv5_block1_3_bn"]]
    for lesion, layers in zip(document["lesions"], silencing, strict=True):
        with silenced(reference, layers):
            expected = reference(x, training=False).numpy()[0]
        check_top(lesion["top"], expected)
        assert lesion["kept"] == pytest.approx(float(expected[intact.argmax()]), abs=1e-5)


def test_without_blocks_every_block_in_turn_marked_untrained(capsys, offline):
    code, out, err = run(capsys, CAT, "--allow-untrained", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["pretrained"] is False and "random" in document["weights"]
    assert [lesion["block"] for lesion in document["lesions"]] == [
        f"conv{stage}_block{block}" for stage, depth in ((2, 3), (3, 4), (4, 6), (5, 3))
        for block in range(1, depth + 1)]
    assert all(len(lesion["top"]) == 5 and 0 <= lesion["kept"] <= 1 for lesion in document["lesions"])
    assert "note: " in err  # why there were no ImageNet weights


def test_text_says_untrained_and_lists_each_lesion(capsys, offline):
    code, out, err = run(capsys, CAT, "--allow-untrained", "--blocks", "conv2_block1", "--top", "3")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[1].strip() == UNTRAINED_LABEL and lines[2].startswith("  intact: ")
    assert lines[-1].split()[0] == "conv2_block1" and lines[-1].split()[1].endswith("%")


@pytest.mark.parametrize("blocks, message", [
    ("conv3_block9", "resnet50 has no block 'conv3_block9'; its blocks are conv2_block1 … conv5_block3"),
    ("conv3_block2,,conv4_block1", "--blocks takes block names separated by commas"),
])
def test_a_bad_block_name_is_one_error_line_and_exit_2(capsys, blocks, message):
    code, out, err = run(capsys, CAT, "--blocks", blocks)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: ") and message in err


def test_without_weights_the_message_says_how_to_get_them(capsys, offline):
    code, out, err = run(capsys, CAT)
    line = err.strip().splitlines()[-1]
    assert code == 2 and out == "" and line.startswith("error: ") and "--allow-untrained" in line
