"""The per-layer table against figures worked out independently: by hand, or from each layer's kernel shape."""

import math

import keras
import pytest

import resnet
from resnet import table


@pytest.fixture(scope="module")
def resnet50():
    return resnet.build("resnet50")


@pytest.fixture(scope="module")
def resnet50_table(resnet50):
    return table.layer_table(resnet50).set_index("name")


def test_one_row_per_layer_in_model_order(resnet50, resnet50_table):
    assert list(resnet50_table.index) == [layer.name for layer in resnet50.layers]
    assert set(resnet50_table.columns) | {"name"} == set(table.COLUMNS)


def test_params_of_every_conv_dense_and_bn_layer_follow_from_their_kernel_shapes(resnet50, resnet50_table):
    for layer in resnet50.layers:
        row = resnet50_table.loc[layer.name]
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            *window, c_in, c_out = layer.kernel.shape
            expected = math.prod(window) * c_in * c_out + (c_out if layer.use_bias else 0)
            assert (row.params, row.non_trainable_params) == (expected, 0), layer.name
        elif isinstance(layer, keras.layers.BatchNormalization):
            channels = row.output_shape[-1]
            # gamma and beta learn; the moving mean and variance do not.
            assert (row.trainable_params, row.non_trainable_params) == (2 * channels, 2 * channels), layer.name
        else:
            assert row.params == 0, layer.name


def test_totals_equal_count_params_and_resnet50_needs_3_86_giga_macs(resnet50, resnet50_table):
    summed = table.totals(resnet50_table)
    assert summed["params"] == resnet50.count_params() == 25_636_712
    assert summed["trainable_params"] + summed["non_trainable_params"] == summed["params"]
    assert round(summed["macs"] / 1e9, 2) == 3.86


@pytest.mark.parametrize(
    "name, macs",
    [
        ("conv1_conv", 112 * 112 * 7 * 7 * 3 * 64),  # 118,013,952
        ("conv2_block1_0_conv", 56 * 56 * 1 * 1 * 64 * 256),
        ("conv2_block1_2_conv", 56 * 56 * 3 * 3 * 64 * 64),
        ("conv3_block1_1_conv", 28 * 28 * 1 * 1 * 256 * 128),  # stride 2 on the 1x1, as in keras.applications
        ("conv5_block3_3_conv", 7 * 7 * 1 * 1 * 512 * 2048),
        ("predictions", 2048 * 1000),
        ("conv1_bn", 0),
        ("conv2_block1_add", 0),
        ("pool1_pool", 0),
    ],
)
def test_macs_of_named_layers_worked_by_hand(resnet50_table, name, macs):
    assert resnet50_table.loc[name, "macs"] == macs


@pytest.mark.parametrize(
    "name, size, jump",
    [
        ("input_layer", 1, 1),
        ("conv1_pad", 1, 1),  # padding moves the window, it does not widen it
        ("conv1_conv", 7, 2),  # 1 + (7-1)*1
        ("pool1_pool", 11, 4),  # 7 + (3-1)*2
        ("conv2_block1_0_conv", 11, 4),  # 1x1
        ("conv2_block1_2_conv", 19, 4),  # 11 + (3-1)*4
        ("conv2_block1_add", 19, 4),  # max(shortcut 11, main path 19)
        ("conv2_block3_out", 35, 4),  # three 3x3 convs at jump 4: 11 + 3*8
        ("conv3_block1_1_conv", 35, 8),  # 1x1 stride 2
        ("conv3_block1_2_conv", 51, 8),  # 35 + 2*8
        ("conv3_block4_out", 99, 8),  # 35 + 4*16
        ("conv4_block6_out", 291, 16),  # 99 + 6*32
        ("conv5_block3_out", 483, 32),  # 291 + 3*64
    ],
)
def test_receptive_field_by_the_recurrence(resnet50_table, name, size, jump):
    assert (resnet50_table.loc[name, "receptive_field"], resnet50_table.loc[name, "jump"]) == (size, jump)


@pytest.mark.parametrize(
    "name, start",
    [
        ("input_layer", 0),
        ("conv1_pad", -3),  # three rows of zeros above the image
        ("conv1_conv", -3),
        ("pool1_pad", -5),  # one more padded row, at jump 2
        ("pool1_pool", -5),
        ("conv2_block1_2_conv", -9),  # the 3×3's "same" padding: one row at jump 4
        ("conv2_block1_add", -9),  # the earlier start of the two branches (the shortcut starts at -5)
        ("conv2_block3_out", -17),  # three 3×3s at jump 4
        ("conv3_block1_1_conv", -17),  # a strided 1×1 reads element 0 first: no shift
        ("conv3_block4_out", -49),  # four 3×3s at jump 8
        ("conv4_block6_out", -145),  # six at jump 16
        ("conv5_block3_out", -241),  # three at jump 32: its 483-pixel window centred on pixel 0
    ],
)
def test_field_start_follows_the_padding(resnet50_table, name, start):
    assert resnet50_table.loc[name, "field_start"] == start


def test_same_padding_of_a_strided_conv_puts_the_odd_row_after():
    # TensorFlow pads a stride-2 3×3 "same" conv on 8 rows with 0 rows above and 1 below; on 9 rows, 1 and 1.
    for size, start in ((8, 0), (9, -1)):
        inputs = keras.Input((size, size, 1))
        outputs = keras.layers.Conv2D(1, 3, strides=2, padding="same", name="strided")(inputs)
        rows = table.layer_table(keras.Model(inputs, outputs)).set_index("name")
        assert rows.loc["strided", "field_start"] == start, size


def test_activation_memory_is_the_float32_output_of_one_image(resnet50_table):
    assert resnet50_table.loc["conv1_conv", "activation_bytes"] == 112 * 112 * 64 * 4
    assert resnet50_table.loc["predictions", "activation_bytes"] == 1000 * 4


def test_layers_are_grouped_by_stage_and_block(resnet50_table):
    assert tuple(resnet50_table.loc["pool1_pool", ["stage", "block"]]) == (1, 0)
    assert tuple(resnet50_table.loc["conv4_block6_2_bn", ["stage", "block"]]) == (4, 6)
    assert tuple(resnet50_table.loc["predictions", ["stage", "block"]]) == (6, 0)


def test_stage_and_block_totals_add_up_to_the_whole(resnet50_table):
    stages = table.stage_totals(resnet50_table.reset_index())
    whole = table.totals(resnet50_table)
    assert list(stages.stage_name) == ["stem", "conv2", "conv3", "conv4", "conv5", "head"]
    assert list(stages.blocks) == [1, 3, 4, 6, 3, 1]
    for column in table.TOTALLED:
        assert stages[column].sum() == whole[column]
    assert stages.loc[5, "output_shape"] == (7, 7, 2048)
    blocks = table.block_totals(resnet50_table.reset_index())
    assert len(blocks) == 1 + 16 + 1
    assert blocks["params"].sum() == whole["params"]


def test_grouped_dilated_and_depthwise_layers_of_a_small_model():
    inputs = keras.Input((8, 8, 4))
    x = keras.layers.Conv2D(8, 3, padding="same", groups=2, name="grouped")(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", dilation_rate=2, name="dilated")(x)
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, name="depthwise")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(3, name="dense")(x)
    rows = table.layer_table(keras.Model(inputs, outputs)).set_index("name")

    assert rows.loc["grouped", "macs"] == 8 * 8 * 3 * 3 * 4 * 8 // 2
    assert rows.loc["depthwise", "macs"] == 4 * 4 * 3 * 3 * 8 * 2
    assert rows.loc["dense", "macs"] == (4 * 4 * 16) * 3
    assert rows.loc["grouped", "receptive_field"] == 3
    assert rows.loc["dilated", "receptive_field"] == 3 + (5 - 1)  # a 3x3 kernel dilated by 2 spans 5 pixels
    assert (rows.loc["depthwise", "receptive_field"], rows.loc["depthwise", "jump"]) == (9, 2)
    assert rows.loc["flatten", "receptive_field"] == 9 + (4 - 1) * 2  # the whole 4x4 map


# Each distinct builder path once: basic blocks, V2 pre-activation, Model Garden, the course's names and head, and
# the CIFAR nets' option-A shortcut. The 101/152 variants only repeat ResNet-50's blocks.
@pytest.mark.parametrize("name", ["resnet18", "resnet50v2", "resnet50_garden", "resnet50_course", "resnet20"])
def test_every_kind_of_network_totals_its_own_count_params(name):
    model = resnet.build(name)
    rows = table.layer_table(model)
    assert table.totals(rows)["params"] == model.count_params()
    assert set(rows.stage) == {1, 6} | set(range(2, 2 + len(resnet.ARCHITECTURES[name].depths)))
    stages = table.stage_totals(rows)
    assert list(stages.blocks.iloc[1:-1]) == list(resnet.ARCHITECTURES[name].depths)


@pytest.mark.parametrize("name", ["resnet50_course", "resnet20"])
def test_the_plain_twin_loses_exactly_the_shortcut_layers(name):
    residual = table.layer_table(resnet.build(name)).set_index("name")
    plain_model = resnet.build(name, plain=True)
    plain = table.layer_table(plain_model).set_index("name")
    assert "Add" not in set(plain.type)
    dropped = residual.index.difference(plain.index)
    assert all(residual.loc[layer, "type"] != "Conv2D" or "_0_" in layer or "branch1" in layer for layer in dropped)
    assert table.totals(plain)["params"] == table.totals(residual)["params"] - residual.loc[dropped, "params"].sum()
    assert table.totals(plain)["params"] == plain_model.count_params()
    # Same main path, so the same windows wherever a layer survives.
    shared = plain.index.intersection(residual.index)
    assert (plain.loc[shared, "receptive_field"] <= residual.loc[shared, "receptive_field"]).all()
    assert plain.loc[plain.index[-1], "receptive_field"] == residual.loc[residual.index[-1], "receptive_field"]


def test_without_batch_norm_nothing_is_non_trainable():
    model = resnet.build("resnet20", batch_norm=False)
    rows = table.layer_table(model)
    assert "BatchNormalization" not in set(rows.type)
    assert table.totals(rows)["non_trainable_params"] == 0
    assert table.totals(rows)["params"] == model.count_params()


def test_input_size_and_classes_change_the_shapes_and_counts_they_should():
    rows = table.layer_table(resnet.build("resnet20", input_shape=(64, 64, 3), classes=7)).set_index("name")
    assert rows.loc["conv1_conv", "output_shape"] == (64, 64, 16)
    assert rows.loc["conv1_conv", "macs"] == 64 * 64 * 3 * 3 * 3 * 16
    assert rows.loc["predictions", "params"] == 64 * 7 + 7


def test_human_counts():
    assert [table.human(n) for n in (0, 999, 9472, 118_013_952, 3_857_973_248)] == [
        "0", "999", "9.47 k", "118 M", "3.86 G"]


def test_residual_stages_are_those_with_blocks_in_a_residual_net_and_its_plain_twin(resnet50_table):
    assert table.residual_stages(resnet50_table.reset_index()) == [2, 3, 4, 5]
    assert table.residual_stages(table.layer_table(resnet.build("resnet20", plain=True))) == [2, 3, 4]


def test_stage_sizes_count_blocks_only_where_a_stage_has_them(resnet50_table):
    sizes = table.stage_sizes(resnet50_table.reset_index())
    stages = table.stage_totals(resnet50_table.reset_index())
    assert sizes[3] == f"4 blocks · {stages.loc[3, 'layers']} layers"
    assert sizes[1] == f"{stages.loc[1, 'layers']} layers" and "blocks" not in sizes[6]
    assert list(sizes) == [1, 2, 3, 4, 5, 6]


def test_comparison_names_each_total_and_takes_the_first_from_the_second():
    residual = table.layer_table(resnet.build("resnet20"))
    plain = table.layer_table(resnet.build("resnet20", plain=True))
    compared = table.comparison(residual, plain, ("ResNet-20", "ResNet-20 plain"))
    assert list(compared.index) == list(table.TOTAL_NAMES.values())
    assert list(compared.columns) == ["ResNet-20", "ResNet-20 plain", "difference"]
    assert compared.loc["parameters", "ResNet-20"] == table.totals(residual)["params"]
    assert compared.loc["MACs per image", "ResNet-20 plain"] == table.totals(plain)["macs"]
    assert compared.loc["layers", "difference"] == -(9 + 2)  # nine additions, two zero-pad shortcuts
    with pytest.raises(ValueError, match="two labels"):
        table.comparison(residual, plain, ("same", "same"))


def test_matching_layers_by_name_or_type_in_any_case(resnet50_table):
    rows = resnet50_table.reset_index()
    assert list(table.matching_layers(rows, " CONV2_block1_ADD ").name) == ["conv2_block1_add"]
    # "add" is in every addition's name, and in the type of the stem's two ZeroPadding2D layers.
    assert len(table.matching_layers(rows, "add")) == 16 + 2 == rows.type.isin(["Add", "ZeroPadding2D"]).sum()
    assert len(table.matching_layers(rows, "batchnorm")) == (rows.type == "BatchNormalization").sum()
    assert len(table.matching_layers(rows, "")) == len(rows)
    assert table.matching_layers(rows, "no such layer").empty


def test_params_and_macs_of_a_row(resnet50_table):
    assert table.params_and_macs(resnet50_table.loc["conv1_conv"]) == "9.47 k params · 118 M MACs"
