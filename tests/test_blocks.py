"""The blocks themselves: what the shortcut adds, and what the plain twin lacks."""

import keras
import numpy as np
import pytest

from resnet.blocks import ConvStyle, ZeroPadShortcut, basic_block, bottleneck_block, identity_block, projection_block
from resnet.naming import BlockNames


def one_block(make, input_shape, **kwargs):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, make(inputs, names=BlockNames(3, 2), style=ConvStyle(), **kwargs))


def silence_main_path(model, last_bn):
    bn = model.get_layer(last_bn)
    gamma, beta, mean, var = bn.get_weights()
    bn.set_weights([np.zeros_like(gamma), np.zeros_like(beta), mean, var])


def test_identity_block_passes_its_input_when_the_main_path_is_silent():
    model = one_block(identity_block, (8, 8, 32), width=8)
    silence_main_path(model, "conv3_block2_3_bn")
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 32)).astype("float32")
    np.testing.assert_allclose(model(x).numpy(), np.maximum(x, 0), atol=1e-6)


def test_plain_identity_block_gives_zero_when_the_main_path_is_silent():
    model = one_block(identity_block, (8, 8, 32), width=8, shortcut=False)
    silence_main_path(model, "conv3_block2_3_bn")
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 32)).astype("float32")
    assert not np.any(model(x).numpy())


def test_projection_block_projects_the_shortcut_and_its_plain_twin_does_not():
    residual = one_block(projection_block, (8, 8, 16), width=8)
    plain = one_block(projection_block, (8, 8, 16), width=8, shortcut=False)
    assert residual.output.shape == plain.output.shape == (None, 4, 4, 32)
    assert residual.get_layer("conv3_block2_0_conv").strides == (2, 2)
    assert "conv3_block2_0_conv" not in {layer.name for layer in plain.layers}
    assert residual.count_params() - plain.count_params() == (16 * 32 + 32) + 4 * 32


def test_option_a_shortcut_subsamples_and_pads_with_zero_channels():
    x = np.random.default_rng(0).normal(size=(1, 6, 6, 4)).astype("float32")
    layer = ZeroPadShortcut(2, 10)
    y = layer(x).numpy()
    assert y.shape == (1, 3, 3, 10)
    np.testing.assert_array_equal(y[..., :4], x[:, ::2, ::2, :])
    assert not np.any(y[..., 4:])
    assert layer.count_params() == 0


def test_basic_block_with_option_a_has_the_parameters_of_its_plain_twin():
    residual = one_block(basic_block, (8, 8, 16), width=32, strides=2, shortcut_kind="zeros")
    plain = one_block(basic_block, (8, 8, 16), width=32, strides=2, shortcut_kind="zeros", shortcut=False)
    assert residual.count_params() == plain.count_params()
    assert residual.output.shape == (None, 4, 4, 32)
    assert any(isinstance(layer, keras.layers.Add) for layer in residual.layers)
    assert not any(isinstance(layer, keras.layers.Add) for layer in plain.layers)


def test_an_unknown_stride_place_or_shortcut_kind_is_refused():
    with pytest.raises(ValueError, match="stride_on"):
        one_block(bottleneck_block, (8, 8, 16), width=4, strides=2, projection=True, stride_on="1×1")
    with pytest.raises(ValueError, match="shortcut_kind"):
        one_block(basic_block, (8, 8, 16), width=32, strides=2, shortcut_kind="zero")
