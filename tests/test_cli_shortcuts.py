"""`python -m resnet shortcuts`: the norms against keras.applications' own layers, picked by name."""

import json

import keras
import numpy as np

from resnet.__main__ import main
from tests.test_cli_lesion import CAT, keras_input

BLOCKS = [(stage, block) for stage, depth in ((2, 3), (3, 4), (4, 6), (5, 3)) for block in range(1, depth + 1)]


def test_json_norms_equal_keras_applications_layer_outputs(capsys, official_resnet50_h5):
    code = main(["shortcuts", str(CAT), "--weights", str(official_resnet50_h5), "--crop", "squash", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    document = json.loads(out)
    assert document["pretrained"] is True and document["file"] == str(CAT)

    # What each addition adds, by keras.applications' layer names: the shortcut is the block's input (the previous
    # block's output) or its projection (…_0_bn); the residual branch ends in …_3_bn.
    reference = keras.applications.ResNet50(weights=str(official_resnet50_h5))
    shortcuts, residuals = [], []
    for stage, block in BLOCKS:
        name = f"conv{stage}_block{block}"
        previous = f"conv{stage}_block{block - 1}_out"
        shortcuts.append(f"{name}_0_bn" if block == 1 else previous)
        residuals.append(f"{name}_3_bn")
    probe = keras.Model(reference.input, [reference.get_layer(n).output for n in shortcuts + residuals])
    outputs = [np.asarray(o, np.float64) for o in probe(keras_input(CAT))]
    norms = [np.linalg.norm(o) for o in outputs]

    rows = document["blocks"]
    assert [row["block"] for row in rows] == [f"conv{s}_block{b}" for s, b in BLOCKS]
    assert [row["kind"] for row in rows] == ["projection" if b == 1 else "identity" for _, b in BLOCKS]
    np.testing.assert_allclose([row["shortcut_norm"] for row in rows], norms[:16], rtol=1e-4)
    np.testing.assert_allclose([row["residual_norm"] for row in rows], norms[16:], rtol=1e-4)
    np.testing.assert_allclose([row["ratio"] for row in rows], np.array(norms[16:]) / norms[:16], rtol=1e-4)


def test_text_lists_every_block_and_says_untrained(capsys, offline):
    code = main(["shortcuts", str(CAT), "--allow-untrained"])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.strip().splitlines()
    assert "UNTRAINED" in lines[1] and len(lines) == 3 + 16
    assert lines[3].split()[:2] == ["conv2_block1", "projection"] and float(lines[3].split()[-1]) > 0
