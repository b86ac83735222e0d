"""Layer names: the keras scheme is keras.applications' own, and every name reads back to the place it was made for."""

import keras
import pytest

import resnet
from resnet.naming import HEAD, INPUT, SCHEMES, STEM, BlockNames, StemNames, block_key, classifier, locate, stage_name

RESNET50_DEPTHS = (3, 4, 6, 3)


def bottleneck_names(depths, scheme="keras"):
    """Every layer name of v1 bottleneck stages, made by the naming rules alone."""
    names = set()
    for stage, depth in enumerate(depths, start=2):
        for block in range(1, depth + 1):
            made = BlockNames(stage, block, scheme)
            names |= {made(branch, kind) for branch in (1, 2, 3) for kind in ("conv", "bn")}
            names |= {made(1, "relu"), made(2, "relu"), made(None, "add"), made(None, "out")}
            if block == 1:
                names |= {made(0, "conv"), made(0, "bn")}
    return names


def test_keras_scheme_is_exactly_keras_applications_resnet50():
    theirs = keras.applications.ResNet50(weights=None)
    stem = StemNames("keras")
    ours = {stem(kind) for kind in ("pad", "conv", "bn", "relu", "pool_pad", "pool")}
    ours |= bottleneck_names(RESNET50_DEPTHS) | {"avg_pool", classifier("keras", 1000)}
    # keras numbers its inputs per session (input_layer, input_layer_1 …): every other name is fixed.
    assert {layer.name for layer in theirs.layers[1:]} == ours
    assert theirs.layers[0].name.startswith(INPUT)


def test_keras_scheme_names_resnet50_v2_blocks_as_keras_does():
    names = {layer.name for layer in keras.applications.ResNet50V2(weights=None).layers}
    made = BlockNames(3, 1)
    assert {made("preact", "bn"), made("preact", "relu"), made(0, "conv"), made(2, "pad"), made(3, "conv"),
            made(None, "out")} <= names
    assert {StemNames("keras")("pool"), "post_bn", "post_relu"} <= names


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_block_name_reads_back_to_its_stage_and_block(scheme):
    most = 36 if scheme == "keras" else 26  # ResNet-152's conv4 has 36 blocks; the course letters them a … z
    for stage in range(2, 6):
        for block in range(1, most + 1):
            made = BlockNames(stage, block, scheme)
            names = [made(branch, kind) for branch in (0, 1, 2, 3) for kind in ("conv", "bn", "relu", "pad")]
            names += [made(None, "add"), made(None, "out")]
            if scheme == "keras":  # only V2 has a pre-activation, and the course has no V2
                names += [made("preact", "bn"), made("preact", "relu")]
            owners = (made.prefix,) if scheme == "keras" else (made.prefix, "bn" + made.prefix[3:])
            for name in names:
                assert locate(name) == (stage, block), name
                assert name.startswith(owners), name


@pytest.mark.parametrize("arch_name", ["resnet50", "resnet50v2", "resnet50_course", "resnet20"])
def test_every_layer_of_a_network_reads_back_to_a_place_that_names_it(arch_name):
    arch = resnet.ARCHITECTURES[arch_name]
    blocks = set()
    for layer in resnet.build(arch_name).layers:
        stage, block = locate(layer.name)
        if block:
            prefix = BlockNames(stage, block, arch.naming).prefix
            assert layer.name.startswith((prefix, "bn" + prefix[3:])), layer.name
            blocks.add((stage, block))
        else:
            assert stage in (STEM, HEAD), layer.name
    assert len(blocks) == sum(arch.depths)


def test_keras_scheme():
    made = BlockNames(4, 6)
    assert made.prefix == "conv4_block6"
    assert made(2, "conv") == "conv4_block6_2_conv" and made(None, "out") == "conv4_block6_out"
    assert made(0, "pad") == "conv4_block6_0_pad" and made("preact", "bn") == "conv4_block6_preact_bn"
    assert locate("conv4_block6_3_bn") == (4, 6) and locate("conv3_block1_0_pad") == (3, 1)


def test_course_scheme():
    made = BlockNames(2, 1, "course")
    assert made.prefix == "res2a"
    assert made(1, "conv") == "res2a_branch2a" and made(3, "bn") == "bn2a_branch2c"
    assert made(0, "conv") == "res2a_branch1" and made(0, "bn") == "bn2a_branch1"
    assert made(2, "relu") == "res2a_branch2b_relu" and made(None, "out") == "res2a_out"
    stem = StemNames("course")
    assert [stem(kind) for kind in ("conv", "bn", "relu", "pool")] == ["conv1", "bn_conv1", "conv1_relu", "pool1"]
    assert classifier("course", 6) == "fc6"
    assert locate("res5c_branch2c") == (5, 3) and locate("bn3d_branch2b") == (3, 4)


def test_stem_and_head_layers_have_no_block():
    for scheme in SCHEMES:
        stem = StemNames(scheme)
        for kind in ("pad", "conv", "bn", "relu", "pool_pad", "pool"):
            assert locate(stem(kind)) == (STEM, 0)
        assert locate(classifier(scheme, 10)) == (HEAD, 0)
    assert locate(INPUT) == (STEM, 0)
    assert locate("post_bn") == (HEAD, 0) and locate("avg_pool") == (HEAD, 0) and locate("flatten") == (HEAD, 0)


def test_stage_and_block_keys_are_keras_prefixes():
    assert [stage_name(stage) for stage in range(STEM, HEAD + 1)] == ["stem", "conv2", "conv3", "conv4", "conv5",
                                                                      "head"]
    assert block_key(3, 2) == "conv3_block2" == BlockNames(3, 2).prefix
    # The key is keras' even for a course-named network: one key names one place in every network.
    assert block_key(3, 2) != BlockNames(3, 2, "course").prefix


def test_an_unknown_scheme_is_refused():
    with pytest.raises(ValueError, match="keras, course"):
        BlockNames(2, 1, "torchvision")
    with pytest.raises(ValueError, match="block 27"):
        BlockNames(4, 27, "course")
    with pytest.raises(ValueError, match="torchvision"):
        StemNames("torchvision")
    with pytest.raises(ValueError, match="torchvision"):
        classifier("torchvision", 10)
