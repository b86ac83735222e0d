"""‖F(x)‖ / ‖x‖ against the block computed by hand: its input from a sub-model, then its layers one at a time."""

import numpy as np
import pytest

import resnet
from resnet.shortcuts import BlockSignal, ShortcutProbe
from tests.conftest import randomise


@pytest.fixture(scope="module")
def resnet50():
    return randomise(resnet.build("resnet50", input_shape=(64, 64, 3)), seed=9)


@pytest.fixture(scope="module")
def signals(resnet50, images):
    return {signal.block: signal for signal in ShortcutProbe(resnet50, "resnet50")(images[0])}


def block_input(model, image, previous_out):
    import keras

    return keras.Model(model.input, model.get_layer(previous_out).output)(image[np.newaxis]).numpy()


def chain(model, x, *names):
    for name in names:
        x = model.get_layer(name)(x, training=False)
    return np.asarray(x, np.float64)


def branch(model, x, block):
    return chain(model, x, *(f"{block}_{i}_{kind}" for i in (1, 2, 3) for kind in ("conv", "bn", "relu")
                             if (i, kind) != (3, "relu")))


def test_identity_block_ratio_by_hand(resnet50, images, signals):
    x = block_input(resnet50, images[0], "conv3_block1_out")  # conv3_block2's input is its shortcut
    residual = branch(resnet50, x, "conv3_block2")
    signal = signals["conv3_block2"]
    assert signal.kind == "identity"
    np.testing.assert_allclose(signal.shortcut_norm, np.linalg.norm(x), rtol=1e-5)
    np.testing.assert_allclose(signal.residual_norm, np.linalg.norm(residual), rtol=1e-5)
    np.testing.assert_allclose(signal.ratio, np.linalg.norm(residual) / np.linalg.norm(x), rtol=1e-5)
    # and the two summands are the block's: relu(x + F(x)) is its output
    out = block_input(resnet50, images[0], "conv3_block2_out")
    np.testing.assert_allclose(np.maximum(x + residual, 0), out, rtol=0, atol=1e-3)


def test_projection_block_ratio_by_hand(resnet50, images, signals):
    x = block_input(resnet50, images[0], "conv2_block3_out")
    shortcut = chain(resnet50, x, "conv3_block1_0_conv", "conv3_block1_0_bn")  # W_s·x, what the shortcut carries
    residual = branch(resnet50, x, "conv3_block1")
    signal = signals["conv3_block1"]
    assert signal.kind == "projection"
    np.testing.assert_allclose(signal.shortcut_norm, np.linalg.norm(shortcut), rtol=1e-5)
    np.testing.assert_allclose(signal.ratio, np.linalg.norm(residual) / np.linalg.norm(shortcut), rtol=1e-5)


def test_one_signal_per_block_in_order(signals):
    assert list(signals)[:3] == ["conv2_block1", "conv2_block2", "conv2_block3"] and len(signals) == 16
    assert all(s.shortcut_norm > 0 and s.residual_norm > 0 for s in signals.values())


def test_json_and_a_silent_shortcut():
    signal = BlockSignal("conv2_block1", "projection", 2.0, 1.0)
    assert signal.to_json() == {"block": "conv2_block1", "kind": "projection", "shortcut_norm": 2.0,
                                "residual_norm": 1.0, "ratio": 0.5}
    assert BlockSignal("b", "identity", 0.0, 1.0).ratio == float("inf")
