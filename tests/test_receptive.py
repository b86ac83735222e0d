"""Receptive fields: the box against hand computation, and the effective field inside it."""

import keras
import numpy as np
import pytest

import resnet
from resnet import table
from resnet.errors import UserError
from resnet.receptive import (Box, FieldProbe, field_box, field_layers, noise_images, plain_twin, summarise)


def small_net(kernel_initializer="glorot_uniform", activation="relu"):
    """20×20 input → pad 2 → 3×3 stride 2 → 3×3 "same" → 2×2 pool stride 2 → 3×3 stride 2 "same"."""
    inputs = keras.Input((20, 20, 1))
    x = keras.layers.ZeroPadding2D(2, name="pad")(inputs)
    x = keras.layers.Conv2D(2, 3, strides=2, activation=activation, kernel_initializer=kernel_initializer,
                            name="a")(x)
    x = keras.layers.Conv2D(2, 3, padding="same", activation=activation, kernel_initializer=kernel_initializer,
                            name="b")(x)
    x = keras.layers.AveragePooling2D(2, name="c")(x)
    x = keras.layers.Conv2D(2, 3, strides=2, padding="same", kernel_initializer=kernel_initializer, name="d")(x)
    return keras.Model(inputs, x)


def test_box_of_a_small_net_worked_by_hand():
    rows = table.layer_table(small_net())
    # a: 24 padded rows → 11; window 3, jump 2, starting 2 rows above the image: rows -2 … 0 for element 0.
    assert field_box(rows, "a", (0, 0)) == Box(-2, -2, 0, 0)
    # b ("same", 1 row above at jump 2): window 3 + 2·2 = 7, start -2 - 2 = -4.
    assert field_box(rows, "b", (0, 1)) == Box(-4, -2, 2, 4)
    # c (2×2 pool, stride 2): window 7 + 1·2 = 9, jump 4, start -4.
    assert field_box(rows, "c", (4, 4)) == Box(12, 12, 20, 20)
    # d: 5 → 3 rows, TensorFlow pads (3-1)·2 + 3 - 5 = 2 rows, 1 above at jump 4: window 9 + 2·4 = 17, jump 8,
    # start -4 - 4 = -8; element (1, 2) sees rows -8 + 8 … +16 and columns -8 + 16 … +16.
    assert field_box(rows, "d", (1, 2)) == Box(0, 8, 16, 24)


def test_a_probe_gives_the_jump_between_neighbouring_units_of_a_layer():
    probe = FieldProbe(small_net())
    # Strides 2, 1, 2 and 2 on the way to d: its units are 8 input pixels apart, as its box above moves.
    assert [probe.jump(layer) for layer in ("a", "b", "c", "d")] == [2, 2, 4, 8]


def test_a_linear_net_with_positive_kernels_sees_exactly_its_box():
    # Every path has a positive weight, so the gradient is non-zero on exactly the pixels the unit can see.
    model = small_net("ones", activation=None)
    probe = FieldProbe(model)
    x = np.random.default_rng(0).normal(size=(2, 20, 20, 1)).astype("float32")
    for layer, position in (("b", (3, 7)), ("c", (0, 4)), ("d", (1, 2)), ("d", (2, 2))):
        field = probe.field(layer, position, x)
        seen = np.argwhere(field.heat > 0)
        inside = field.box.clipped(20, 20)
        assert (seen.min(axis=0).tolist(), seen.max(axis=0).tolist()) == (
            [inside.top, inside.left], [inside.bottom, inside.right]), (layer, position)


@pytest.fixture(scope="module")
def resnet50_224_rows():
    return table.layer_table(resnet.build("resnet50", include_top=False))


@pytest.mark.parametrize("layer, position, box", [
    ("conv1_conv", (0, 0), Box(-3, -3, 3, 3)),  # 7×7 after 3 rows of padding
    ("pool1_pool", (0, 1), Box(-5, -1, 5, 9)),  # 11 px from -5, jump 4
    ("conv3_block4_out", (14, 14), Box(63, 63, 161, 161)),  # 99 px from -49, jump 8: -49 + 14·8 = 63
    ("conv5_block3_out", (3, 3), Box(-145, -145, 337, 337)),  # 483 px from -241, jump 32
])
def test_resnet50_boxes(resnet50_224_rows, layer, position, box):
    assert field_box(resnet50_224_rows, layer, position) == box
    assert box.size == resnet50_224_rows.set_index("name").loc[layer, "receptive_field"]


def test_a_position_off_the_map_is_refused(resnet50_224_rows):
    with pytest.raises(UserError, match=r"outside conv3_block4_out's 28×28 map"):
        field_box(resnet50_224_rows, "conv3_block4_out", (28, 0))
    with pytest.raises(UserError, match="no layer"):
        field_box(resnet50_224_rows, "conv9_out", (0, 0))


@pytest.fixture(scope="module")
def resnet50_pair():
    model = resnet.build("resnet50", input_shape=(64, 64, 3), seed=3)
    return model, plain_twin(model, "resnet50")


def test_the_plain_twin_holds_the_residual_networks_kernels_and_no_shortcut(resnet50_pair):
    model, twin = resnet50_pair
    assert not any(isinstance(layer, keras.layers.Add) for layer in twin.layers)
    for name in ("conv1_conv", "conv3_block1_2_conv", "conv5_block3_3_bn"):
        for ours, theirs in zip(model.get_layer(name).get_weights(), twin.get_layer(name).get_weights()):
            np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("layer, position", [("conv2_block3_out", (5, 9)), ("conv3_block1_out", (2, 3)),
                                             ("conv4_block2_out", (1, 0))])
def test_the_effective_field_is_non_zero_only_inside_the_box(resnet50_pair, layer, position):
    x = noise_images((64, 64, 3), "caffe", count=2)
    for model in resnet50_pair:
        field = FieldProbe(model).field(layer, position, x)
        inside = field.box.clipped(64, 64)
        outside = field.heat.copy()
        outside[inside.top:inside.bottom + 1, inside.left:inside.right + 1] = 0
        assert field.heat.max() > 0 and not outside.any(), (model.name, layer)
        assert field.mass_in_box == pytest.approx(1.0)
        assert 0 < field.radius_50 <= field.radius_90


def test_radii_hold_the_mass_around_the_box_centre():
    heat = np.zeros((11, 11))
    heat[5, 5], heat[5, 8], heat[0, 0] = 6.0, 3.0, 1.0  # centre, 3 px right, √50 px up-left
    field = summarise(heat, Box(2, 2, 8, 8))
    assert (field.radius_50, field.radius_90) == (0.0, 3.0)
    assert field.mass_in_box == pytest.approx(0.9) and field.peak == (5, 5)
    dead = summarise(np.zeros((4, 4)), Box(0, 0, 3, 3))
    assert dead.radius_50 is None and dead.mass_in_box == 0.0


def test_field_layers_are_the_stem_and_every_block_output():
    assert field_layers("resnet50")[:2] == ["pool1_pool", "conv2_block1_out"] and len(field_layers("resnet50")) == 17
    assert field_layers("resnet20")[0] == "conv1_relu" and len(field_layers("resnet20")) == 10
    assert field_layers("resnet50_course")[:2] == ["pool1", "res2a_out"]
