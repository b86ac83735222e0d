"""Lesions of a trained lab net, measured as held-out accuracy (Veit, Wilber & Belongie, NeurIPS 2016).

A residual net's block is removed as on the Predict page (resnet/lesion.py): its residual branch is scaled to zero,
so the block passes on its shortcut alone — the same network as the block's last BatchNorm with γ and β set to zero.

The plain twin has no shortcut to fall back on. Removing the layers at the same position means the same thing done
to them: the block's last weighted layer (its last BatchNorm's γ and β, or without BatchNorm its last convolution)
set to zero. There the block's output is relu(0) = 0 for every image, so nothing of the image reaches the layers
after it: the twin answers one class for everything, and its accuracy falls to that class's share of the held-out
images. Skipping the block instead (passing its input on) would be giving the plain net a shortcut.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from resnet.datasets import lab_input
from resnet.heldout import EVALUATION_BATCH, Evaluator
from resnet.residual_blocks import BlockWalk, residual_blocks
from resnet.trained import TrainedNet


@dataclass(frozen=True)
class LesionAccuracy:
    block: str  # keras.applications' name of the block removed (conv3_block2), the same position in either twin
    accuracy: float  # on the held-out images, with that block removed


def heldout_lesions(net: TrainedNet) -> list[LesionAccuracy]:
    """Held-out accuracy with each residual block removed in turn, input to output."""
    if net.plain:
        return _plain_lesions(net)
    return _residual_lesions(net)


def _residual_lesions(net: TrainedNet) -> list[LesionAccuracy]:
    walk = BlockWalk(net.model, net.arch)
    count = len(walk.blocks)
    signature = [tf.TensorSpec((None, *net.model.input_shape[1:]), tf.float32), tf.TensorSpec((None, count),
                                                                                             tf.float32)]
    forward = tf.function(lambda x, scale: walk(x, scale=scale), input_signature=signature)
    inputs, labels = lab_input(net.heldout.images), net.heldout.labels
    results = []
    for i, block in enumerate(walk.blocks):
        hits = 0
        for start in range(0, len(inputs), EVALUATION_BATCH):
            chunk = inputs[start:start + EVALUATION_BATCH]
            scale = np.ones((len(chunk), count), np.float32)
            scale[:, i] = 0.0  # every image of the batch through the network without block i
            answers = np.argmax(forward(tf.constant(chunk), tf.constant(scale)).numpy(), axis=-1)
            hits += int(np.sum(answers == labels[start:start + EVALUATION_BATCH]))
        results.append(LesionAccuracy(block.name, hits / len(labels) if len(labels) else float("nan")))
    return results


def last_weighted_layer(model: keras.Model, block: str) -> keras.layers.Layer:
    """The last layer with trainable weights of `block`'s residual branch (its last BatchNorm, or its last conv
    where there is none), by keras.applications' name prefix; the shortcut's own layers (`_0_`) are not the branch."""
    layers = [layer for layer in model.layers if layer.name.startswith(block + "_") and layer.trainable_weights
              and not layer.name.startswith(block + "_0_")]
    return layers[-1]


def _plain_lesions(net: TrainedNet) -> list[LesionAccuracy]:
    # One copy, one traced forward pass: each block's layer is zeroed, measured and put back in turn.
    copy = keras.models.clone_model(net.model)
    copy.set_weights(net.model.get_weights())
    evaluator = Evaluator(copy, net.heldout)
    results = []
    for block in residual_blocks(net.arch):
        variables = last_weighted_layer(copy, block.name).trainable_weights
        saved = [variable.numpy() for variable in variables]
        for variable in variables:
            variable.assign(np.zeros(variable.shape, np.float32))
        results.append(LesionAccuracy(block.name, evaluator().accuracy))
        for variable, value in zip(variables, saved):
            variable.assign(value)
    return results
