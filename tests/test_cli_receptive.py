"""`python -m resnet receptive`: the box worked by hand, the field against a gradient taken here."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import resnet
from resnet.__main__ import main


def run(capsys, *argv):
    code = main(["receptive", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def gradient_heat(model, layer, position, x):
    probe = keras.Model(model.input, model.get_layer(layer).output)
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        unit = tf.reduce_sum(probe(x, training=False)[:, position[0], position[1], :])
    return np.abs(tape.gradient(unit, x).numpy()).sum(axis=-1).mean(axis=0)


def check_radius(heat, centre, radius, share):
    """`radius` is the smallest distance from `centre` within which `share` of the heat lies."""
    rows, columns = np.indices(heat.shape)
    distance = np.hypot(rows - centre[0], columns - centre[1])
    assert heat[distance <= radius].sum() >= share * heat.sum() - 1e-9
    assert heat[distance < radius].sum() < share * heat.sum()


def test_json_box_by_hand_and_fields_against_gradients_taken_here(capsys):
    code, out, err = run(capsys, "--arch", "resnet50", "--input-size", 64, "--layer", "conv3_block1_out",
                         "--position", "2,3", "--json")
    assert code == 0, err
    document = json.loads(out)
    # conv2_block3_out starts at -17 (jump 4, 35 px); conv3_block1's strided 1×1 keeps that start at jump 8 and its
    # 3×3 pads one row: start -25, 35 + 2·8 = 51 px. Element (2, 3): rows -25 + 16 …, columns -25 + 24 ….
    assert document["theoretical"] == {"size": 51, "jump": 8, "top": -9, "left": -1, "bottom": 41, "right": 49}
    assert document["map_size"] == [8, 8] and document["pretrained"] is False

    # The same networks and inputs made independently: seeded weights are drawn per layer name, so the plain twin
    # built with the same seed holds the same kernels; noise is uniform pixels, caffe-preprocessed.
    pixels = np.random.default_rng(0).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8).astype("float32")
    x = keras.applications.resnet50.preprocess_input(pixels)
    centre = ((-9 + 41) / 2, (-1 + 49) / 2)
    for name, plain in (("residual", False), ("plain", True)):
        model = resnet.build("resnet50", input_shape=(64, 64, 3), plain=plain, include_top=False, seed=0)
        heat = gradient_heat(model, "conv3_block1_out", (2, 3), x)
        field = document["effective"][name]
        check_radius(heat, centre, field["radius_50"], 0.5)
        check_radius(heat, centre, field["radius_90"], 0.9)
        assert field["peak"] == list(np.unravel_index(np.argmax(heat), heat.shape))
        assert field["mass_in_box"] == pytest.approx(1.0)


def test_text_of_a_cifar_net(capsys):
    code, out, err = run(capsys, "--arch", "resnet20", "--layer", "conv3_block2_out", "--position", "8,8")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("resnet20 conv3_block2_out (16×16 map), unit at row 8, column 8; input 32×32")
    # conv1 and conv2's six 3×3s: 15 px from -7; conv3_block1's strided 3×3 pads nothing above 32 rows, its second
    # pads one row at jump 2: 21 px from -9; conv3_block2: 29 px from -13. Row 8: -13 + 16 = 3.
    assert "theoretical field: 29×29 px, rows 3…31, columns 3…31 (jump 2 px" in lines[1]
    assert [line.split()[0] for line in lines[3:]] == ["residual", "plain"]


@pytest.mark.parametrize("argv, message", [
    (["--arch", "resnet20", "--layer", "conv3_block2_out", "--position", "16,0"],
     "outside conv3_block2_out's 16×16 map"),
    (["--arch", "resnet20", "--layer", "conv9_out"], "resnet20 has no layer 'conv9_out'"),
    (["--arch", "resnet20", "--position", "8"], "--position takes ROW,COLUMN"),
])
def test_a_bad_layer_or_position_is_one_error_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err
