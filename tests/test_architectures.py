"""The architecture table: every row builds, with published parameter counts and the source articles' differences."""

import keras
import numpy as np
import pytest

import resnet
from resnet import architectures
from resnet.architectures import Architecture, ModelSpec, block_model, stage_model
from resnet.blocks import ConvStyle
from resnet.errors import UnknownArchitecture, UserError
from resnet.naming import HEAD, STEM, locate
from tests.conftest import run_together


def trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize("name, total", [
    ("resnet50", 25_636_712), ("resnet101", 44_707_176), ("resnet152", 60_419_944),
    ("resnet50v2", 25_613_800), ("resnet101v2", 44_675_560), ("resnet152v2", 60_380_648),
    ("resnet50_course", 23_600_006),  # the course notebook's model.summary() total
])
def test_total_parameters_are_the_published_ones(name, total):
    assert resnet.build(name).count_params() == total


@pytest.mark.parametrize("name, params", [
    ("resnet18", 11_689_512), ("resnet34", 21_797_672),  # He et al. Table 1 nets, as torchvision counts them
    ("resnet50_garden", 25_557_032),  # v1.5 without conv biases, the same count as torchvision's ResNet-50
])
def test_trainable_parameters_of_the_bias_free_nets(name, params):
    assert trainable(resnet.build(name)) == params


@pytest.mark.parametrize("depth, millions", [(20, 0.27), (32, 0.46), (44, 0.66), (56, 0.85), (110, 1.7)])
def test_cifar_family_matches_he_et_al_table_6(depth, millions):
    model = resnet.build(f"resnet{depth}")
    assert round(trainable(model) / 1e6, 2 if depth < 100 else 1) == millions
    assert model.output.shape == (None, 10)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) + 1 == depth  # 6n+2 weighted layers: the convs and the classifier
    assert {layer.filters for layer in convs} == {16, 32, 64}


def test_every_row_builds_and_its_depth_counts_its_weighted_layers():
    for name, arch in resnet.ARCHITECTURES.items():
        model = resnet.build(name)
        convs = [layer for layer in model.layers
                 if isinstance(layer, keras.layers.Conv2D) and not layer.name.endswith(("_0_conv", "_branch1"))]
        assert len(convs) + 1 == arch.depth, name
        assert model.output.shape == (None, arch.classes), name


def test_model_garden_strides_on_the_3x3_and_keras_on_the_1x1():
    garden, keras_net = resnet.build("resnet50_garden"), resnet.build("resnet50")
    assert garden.get_layer("conv3_block1_1_conv").strides == (1, 1)
    assert garden.get_layer("conv3_block1_2_conv").strides == (2, 2)
    assert keras_net.get_layer("conv3_block1_1_conv").strides == (2, 2)
    assert keras_net.get_layer("conv3_block1_2_conv").strides == (1, 1)
    conv = garden.get_layer("conv2_block1_2_conv")
    assert not conv.use_bias and conv.kernel_regularizer is not None
    assert keras_net.get_layer("conv2_block1_2_conv").use_bias
    assert garden.get_layer("conv2_block1_1_bn").momentum == pytest.approx(0.9)


def test_course_version_uses_its_own_names_and_head():
    model = resnet.build("resnet50_course")
    names = {layer.name for layer in model.layers}
    assert {"conv1", "bn_conv1", "res2a_branch2a", "bn2a_branch2a", "res2a_branch1", "res5c_branch2c",
            "fc6"} <= names
    assert model.input.shape == (None, 64, 64, 3)
    assert model.get_layer("avg_pool").output.shape == (None, 1, 1, 2048)
    assert model.get_layer("res2a_branch2a").strides == (1, 1)


def test_plain_twin_has_the_same_layers_but_no_addition():
    residual, plain = resnet.build("resnet56"), resnet.build("resnet56", plain=True)
    assert not [layer for layer in plain.layers if isinstance(layer, keras.layers.Add)]
    assert len([layer for layer in residual.layers if isinstance(layer, keras.layers.Add)]) == 27
    assert plain.count_params() == residual.count_params()  # option A shortcuts have no parameters
    plain50 = resnet.build("resnet50", plain=True)
    assert "conv3_block1_0_conv" not in {layer.name for layer in plain50.layers}


def test_batch_norm_switch_and_initialiser_override():
    model = resnet.build("resnet20", batch_norm=False, kernel_initializer="glorot_uniform")
    assert not [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert model.get_layer("conv2_block1_1_conv").kernel_initializer.__class__.__name__ == "GlorotUniform"


def test_seed_makes_initial_weights_reproducible():
    a, b = resnet.build("resnet20", seed=7), resnet.build("resnet20", seed=7)
    c = resnet.build("resnet20", seed=8)
    assert all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


def test_seeded_build_is_the_same_while_other_threads_build():
    # The app builds in several threads at once (sessions, the start-up warm-up); keras' global generator and
    # Python's `random` are shared by all of them, so a seeded build must not draw from either.
    alone = resnet.build("resnet20", seed=3).get_weights()
    results = {"seeded": [], "free": []}

    def work(key, seed):
        for _ in range(3):
            results[key].append(resnet.build("resnet20", seed=seed).get_weights())

    run_together(lambda: work("seeded", 3), lambda: work("free", None))
    for weights in results["seeded"]:
        assert all(np.array_equal(x, y) for x, y in zip(alone, weights, strict=True))
    assert not np.array_equal(results["free"][0][0], results["free"][1][0])  # unseeded builds stay random


def test_plain_twin_starts_from_the_residual_nets_weights():
    # ResNet-18's projection shortcuts exist only in the residual net: drawing in order would shift every layer after.
    residual = resnet.build("resnet18", seed=5, input_shape=(64, 64, 3))
    plain = resnet.build("resnet18", seed=5, input_shape=(64, 64, 3), plain=True)
    shared = [layer.name for layer in plain.layers if layer.weights]
    assert len(shared) > 20
    for name in shared:
        for x, y in zip(residual.get_layer(name).get_weights(), plain.get_layer(name).get_weights(), strict=True):
            assert np.array_equal(x, y), name


def test_keras_applications_arguments():
    features = resnet.build("resnet50", include_top=False, input_shape=(96, 96, 3), pooling="max")
    assert features.output.shape == (None, 2048) and features.layers[-1].name == "max_pool"
    raw = resnet.build("resnet18", include_top=False, input_shape=(64, 64, 3))
    assert raw.output.shape == (None, 2, 2, 512)
    head = resnet.build("resnet18", classes=7, classifier_activation=None)
    assert head.output.shape == (None, 7) and head.layers[-1].activation.__name__ == "linear"
    tensor = keras.Input((64, 64, 3))
    assert resnet.build("resnet20", input_tensor=tensor).inputs[0] is tensor


@pytest.mark.parametrize("kwargs, words", [
    (dict(name="resnet51"), "unknown architecture 'resnet51'"),
    (dict(pooling="mean", include_top=False), "pooling"),
    (dict(weights="imagenet", classes=10), "1000-class"),
    (dict(name="resnet18", weights="imagenet"), "no published ImageNet weights"),
    (dict(weights="imagenet", plain=True), "only for the residual network"),
    (dict(weights="/nowhere/weights.h5"), "does not exist"),
    (dict(input_shape=(16, 16, 3)), "at least 32"),
])
def test_bad_arguments_give_one_line_errors(kwargs, words):
    with pytest.raises(UserError) as error:
        resnet.build(**kwargs)
    assert words in str(error.value) and "\n" not in str(error.value)
    if "unknown" in words:
        assert isinstance(error.value, UnknownArchitecture) and "resnet50" in str(error.value)


GOOD_ROW = {"name": "row", "title": "Row", "block": "basic", "depths": (1, 1), "widths": (8, 16), "strides": (1, 2)}


@pytest.mark.parametrize("change, words", [
    ({"block": "bottelneck"}, "block is 'bottelneck'; choose one of 'bottleneck', 'preact_bottleneck', 'basic'"),
    ({"stem": "imagenet1k"}, "stem is 'imagenet1k'; choose one of 'imagenet', 'preact', 'course', 'cifar'"),
    ({"stride_on": "1×1"}, "stride_on is '1×1'; choose one of '1x1', '3x3'"),
    ({"stride_in": "middle"}, "stride_in is 'middle'; choose one of 'first', 'last'"),
    ({"shortcut": "zero"}, "shortcut is 'zero'; choose one of 'projection', 'zeros'"),
    ({"head": "global"}, "head is 'global'; choose one of 'gap', 'avgpool_flatten'"),
    ({"naming": "torchvision"}, "naming is 'torchvision'; choose one of 'keras', 'course'"),
    ({"depths": (1, 1, 1)}, "one value per stage, not 3 depths, 2 widths, 2 strides"),
    ({"strides": (1,)}, "one value per stage, not 2 depths, 2 widths, 1 strides"),
    ({"depths": (), "widths": (), "strides": ()}, "depths must be a non-empty tuple"),
    ({"depths": (1, 0)}, "depths must be a non-empty tuple of positive whole numbers, not (1, 0)"),
    ({"widths": (8, 16.0)}, "widths must be"),
    ({"strides": [1, 2]}, "strides must be"),
    ({"depths": (1,) * 5, "widths": (8,) * 5, "strides": (1,) * 5}, "at most 4 residual stages"),
    ({"classes": 0}, "classes must be a positive whole number"),
    ({"stem_width": -16}, "stem_width must be a positive whole number"),
    ({"input_shape": (32, 32)}, "input_shape must be (height, width, 3)"),
    ({"input_shape": (32, 32, 1)}, "input_shape must be (height, width, 3)"),
    ({"imagenet_weights": "resnet18"}, "imagenet_weights is 'resnet18'; keras.applications' files are resnet50,"),
    ({"block": "bottleneck", "shortcut": "zeros"}, "shortcut 'zeros' needs block 'basic'"),
    ({"stride_on": "3x3"}, "stride_on '3x3' needs block 'bottleneck'"),
    ({"naming": "course", "depths": (27, 1)}, "at most 26 per stage"),
])
def test_a_bad_row_is_refused_with_the_field_and_what_it_may_be(change, words):
    with pytest.raises(ValueError) as error:
        Architecture(**{**GOOD_ROW, **change})
    assert str(error.value).startswith("row: ") and words in str(error.value)


def test_a_good_row_passes_the_checks():
    assert Architecture(**GOOD_ROW).depth == 2 * 2 + 2


def test_a_block_without_a_builder_is_refused_not_built_as_a_bottleneck():
    row = Architecture(**GOOD_ROW)
    object.__setattr__(row, "block", "resnext")  # past the row's own check, as a new block kind half-added would be
    with pytest.raises(ValueError, match="no builder for block 'resnext'"):
        architectures.stage(keras.Input((8, 8, 8)), row, 0, ConvStyle())


def test_layers_of_the_course_net_are_placed_in_its_stages():
    for layer in resnet.build("resnet50_course").layers:
        stage, block = locate(layer.name)
        assert stage in (STEM, HEAD) or 2 <= stage <= 5


def test_model_spec_builds_what_it_describes():
    model = ModelSpec("resnet20", input_size=64, classes=7, plain=True, batch_norm=False).build()
    assert model.input.shape == (None, 64, 64, 3) and model.output.shape == (None, 7)
    assert model.name == "resnet20_plain"
    assert not [layer for layer in model.layers if isinstance(layer, (keras.layers.Add,
                                                                      keras.layers.BatchNormalization))]
    assert ModelSpec("resnet20", include_top=False).build().output.shape == (None, 8, 8, 64)


def test_catalogue_has_one_row_per_network():
    rows = architectures.catalogue()
    assert list(rows.name) == list(resnet.ARCHITECTURES)
    assert rows.set_index("name").loc["resnet50_garden", "down-sampling stride on"] == "3×3"


def test_block_and_stage_models_see_the_shapes_of_the_real_network():
    projection = block_model("resnet50", "projection", stage_number=3)
    assert projection.input.shape == (None, 56, 56, 256) and projection.output.shape == (None, 28, 28, 512)
    identity = block_model("resnet50", "identity", stage_number=3)
    assert identity.input.shape == identity.output.shape == (None, 28, 28, 512)
    plain = block_model("resnet50", "projection", plain=True)
    assert projection.count_params() - plain.count_params() == 256 * 512 + 512 + 4 * 512
    stage4 = stage_model("resnet50", 4)
    assert stage4.output.shape == (None, 14, 14, 1024)
    assert len({locate(layer.name)[1] for layer in stage4.layers[1:]}) == 6
    with pytest.raises(UserError, match="stages 2 to 5"):
        stage_model("resnet50", 6)


def test_each_rows_view_layers_are_layers_of_its_network_and_the_lab_sizes_are_in_the_rows():
    from resnet.explaining import grad_cam_layer

    assert resnet.ARCHITECTURES["resnet50"].field_layer == "conv3_block4_out"
    for name in ("resnet50", "resnet50v2", "resnet20", "resnet50_course"):
        arch = resnet.ARCHITECTURES[name]
        model = resnet.build(name)
        model.get_layer(arch.field_layer)
        assert arch.cam_layer == grad_cam_layer(model)  # what Grad-CAM finds by looking, the row says
    lab = {name: arch.lab_image_size for name, arch in resnet.ARCHITECTURES.items() if arch.lab_image_size}
    assert lab == {"resnet18": 64, "resnet34": 64, "resnet50": 64, "resnet20": 32, "resnet32": 32, "resnet44": 32,
                   "resnet56": 32, "resnet110": 32}
