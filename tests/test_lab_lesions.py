"""Lesions of the lab's trained nets on their held-out images, checked against Keras evaluating a copy with the
block's last BatchNorm's γ and β set to zero (the lesion identity of resnet/lesion.py)."""

import keras
import numpy as np
import pytest

from resnet.datasets import lab_input
from resnet.lab_lesions import heldout_lesions, last_weighted_layer
from tests.conftest import keras_evaluate

BLOCKS = [f"conv{s}_block{b}" for s in (2, 3, 4) for b in (1, 2, 3)]


def with_zero_gamma_beta(model, block):
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    bn = copy.get_layer(f"{block}_2_bn")  # a basic block's last BatchNorm, by keras.applications' name
    bn.gamma.assign(np.zeros(bn.gamma.shape, np.float32))
    bn.beta.assign(np.zeros(bn.beta.shape, np.float32))
    return copy


def test_a_residual_net_without_a_block_scores_as_keras_scores_it_with_that_blocks_last_bn_zeroed(trained_pair):
    net = trained_pair["resnet20"]
    lesions = heldout_lesions(net)
    assert [lesion.block for lesion in lesions] == BLOCKS
    for lesion in lesions:
        _, accuracy = keras_evaluate(with_zero_gamma_beta(net.model, lesion.block), net.heldout.images,
                                     net.heldout.labels)
        assert lesion.accuracy == pytest.approx(accuracy, abs=1e-6), lesion.block


def test_the_plain_twin_without_a_block_answers_one_class_for_every_image(trained_pair):
    """No shortcut: with its block's output zero, nothing of the image gets through, so the twin's accuracy is the
    share of the one class it answers."""
    net = trained_pair["plain20"]
    lesions = heldout_lesions(net)
    assert [lesion.block for lesion in lesions] == BLOCKS
    labels = net.heldout.labels
    for lesion in lesions:
        answers = np.argmax(with_zero_gamma_beta(net.model, lesion.block).predict(
            lab_input(net.heldout.images), verbose=0), axis=-1)
        assert len(set(answers.tolist())) == 1
        assert lesion.accuracy == pytest.approx(np.mean(labels == answers[0]))


def test_the_layer_a_lesion_zeroes_is_the_branchs_last_batchnorm_or_its_last_conv_without_one():
    import resnet

    assert last_weighted_layer(resnet.build("resnet20"), "conv3_block1").name == "conv3_block1_2_bn"
    assert last_weighted_layer(resnet.build("resnet20", batch_norm=False), "conv3_block1").name == \
        "conv3_block1_2_conv"
    assert last_weighted_layer(resnet.build("resnet50", input_shape=(64, 64, 3)), "conv3_block1").name == \
        "conv3_block1_3_bn"  # not the projection shortcut's conv3_block1_0_bn
