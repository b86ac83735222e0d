"""Lesions against keras.applications: a removed block is that network with the block's residual branch silenced.

Silencing is done the issue's way, on keras.applications' own model: the last BatchNorm of the branch (…_3_bn) gets
γ = β = 0, so the branch outputs exactly zero; in V2, whose branch ends in a convolution, that conv's kernel and
bias are zeroed. Both networks get the same random weights (BatchNorm statistics included).
"""

import contextlib

import keras
import numpy as np
import pytest

import resnet
from resnet.errors import UserError
from resnet.lesion import MAX_LESIONS, LesionNet, LesionResult, removal_name
from tests.conftest import randomise

SHAPE = (64, 64, 3)


@pytest.fixture(scope="module")
def pair():
    theirs = randomise(keras.applications.ResNet50(weights=None, input_shape=SHAPE), seed=7)
    ours = resnet.build("resnet50", input_shape=SHAPE)
    ours.set_weights(theirs.get_weights())
    return ours, theirs


@pytest.fixture(scope="module")
def lesion_net(pair):
    return LesionNet(pair[0], "resnet50")


@pytest.fixture(scope="module")
def image(images):
    return images[0]


@contextlib.contextmanager
def silenced(model, layers):
    """Zero every weight but the moving statistics of `layers` (γ and β of a BatchNorm; kernel and bias of a conv),
    then put them back."""
    saved = {name: model.get_layer(name).get_weights() for name in layers}
    try:
        for name, weights in saved.items():
            layer = model.get_layer(name)
            if isinstance(layer, keras.layers.BatchNormalization):
                gamma, beta, mean, variance = weights
                layer.set_weights([np.zeros_like(gamma), np.zeros_like(beta), mean, variance])
            else:
                layer.set_weights([np.zeros_like(w) for w in weights])
        yield model
    finally:
        for name, weights in saved.items():
            model.get_layer(name).set_weights(weights)


def probabilities(model, image):
    return model(image[np.newaxis], training=False).numpy()[0]


@pytest.mark.parametrize("block", ["conv4_block3", "conv3_block1"], ids=["identity", "projection"])
def test_a_removed_block_is_keras_applications_with_its_last_batch_norm_silenced(pair, lesion_net, image, block):
    _, theirs = pair
    result = lesion_net(image, [(block,)])
    np.testing.assert_allclose(result.intact, probabilities(theirs, image), rtol=0, atol=1e-5)
    with silenced(theirs, [f"{block}_3_bn"]):
        expected = probabilities(theirs, image)
    assert 0.05 < expected.max() < 0.999  # a peaked softmax: agreement is not that of near-uniform outputs
    assert np.abs(expected - result.intact).max() > 1e-3  # the block mattered, so agreement says something
    np.testing.assert_allclose(result.lesioned[0], expected, rtol=0, atol=1e-5)
    assert result.kept[0] == result.lesioned[0, result.top_class]


def test_each_block_in_turn_and_sets_in_one_batch_equal_each_alone(pair, lesion_net, image):
    _, theirs = pair
    sets = [("conv5_block2", "conv2_block2"), ("conv3_block3",)]
    together = lesion_net.each_block(image, also=sets)
    assert together.removed[:16] == tuple((name,) for name in lesion_net.block_names)
    assert together.removed[16:] == (("conv2_block2", "conv5_block2"), ("conv3_block3",))  # network order
    for row in (0, 5, 15, 16, 17):
        alone = lesion_net(image, [together.removed[row]])
        np.testing.assert_allclose(together.lesioned[row], alone.lesioned[0], rtol=0, atol=1e-5)
    with silenced(theirs, ["conv2_block2_3_bn", "conv5_block2_3_bn"]):
        np.testing.assert_allclose(together.lesioned[16], probabilities(theirs, image), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(together.kept, together.lesioned[:, together.top_class])


def test_v2_removes_a_block_whose_shortcut_is_a_strided_max_pool(image):
    theirs = randomise(keras.applications.ResNet50V2(weights=None, input_shape=SHAPE), seed=8)
    ours = resnet.build("resnet50v2", input_shape=SHAPE)
    ours.set_weights(theirs.get_weights())
    net = LesionNet(ours, "resnet50v2")
    assert [b.kind for b in net.blocks][2] == "pooled"
    result = net(image, [("conv2_block3",)])
    with silenced(theirs, ["conv2_block3_3_conv"]):
        expected = probabilities(theirs, image)
    np.testing.assert_allclose(result.lesioned[0], expected, rtol=0, atol=1e-5)


def test_unknown_empty_and_too_many_lesions_are_refused(lesion_net, image):
    with pytest.raises(UserError, match="no block 'conv4_block7'"):
        lesion_net(image, [("conv4_block7",)])
    with pytest.raises(UserError, match="at least one block"):
        lesion_net(image, [()])
    with pytest.raises(UserError, match=f"at most {MAX_LESIONS}"):
        lesion_net(image, [("conv2_block1",)] * (MAX_LESIONS + 1))


def test_removal_names_join_blocks_with_plus():
    assert removal_name(("conv3_block2", "conv4_block1")) == "conv3_block2+conv4_block1"


def test_single_block_lesions_and_the_costliest_of_them():
    # The intact top-1 class is 1; a lesion of two blocks costs more than any single one, and is left out.
    result = LesionResult(removed=(("conv2_block1",), ("conv2_block2",), ("conv3_block1",),
                                   ("conv2_block1", "conv3_block1")),
                          intact=np.array([0.2, 0.8]),
                          lesioned=np.array([[0.3, 0.7], [0.6, 0.4], [0.6, 0.4], [0.9, 0.1]]))
    assert result.single_blocks() == {"conv2_block1": 0.7, "conv2_block2": 0.4, "conv3_block1": 0.4}
    assert result.costliest_block() == ("conv2_block2", 0.4)  # the first of the two that keep least
