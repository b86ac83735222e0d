"""The signal through the shortcuts: per block, how large the residual branch's output F(x) is against what the
shortcut carries (x, or W_s·x at a projection), for one image.

A block computes y = F(x) + x. If ‖F(x)‖ / ‖x‖ is small, the block makes a small correction to a signal that the
shortcut carries past it — the view of He et al. (2016) and of Veit et al.'s lesions. Norms are Euclidean, over the
whole tensor (every position and channel) of the one image.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

# Re-exported: the result is a TensorFlow-free value (resnet.block_signal).
from resnet.block_signal import BlockSignal
from resnet.residual_blocks import BlockWalk


class ShortcutProbe:
    """‖x‖ and ‖F(x)‖ at every block of one built network of the table, in one forward pass."""

    def __init__(self, model: keras.Model, arch_name: str):
        self._walk = BlockWalk(model, arch_name)
        self.blocks = self._walk.blocks
        signature = [tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)]
        self._norms = tf.function(self._both_norms, input_signature=signature)

    def _both_norms(self, x):
        summands = []
        self._walk(x, summands=summands)
        shortcut = tf.stack([_norm(s) for s, _ in summands], axis=1)
        residual = tf.stack([_norm(r) for _, r in summands], axis=1)
        return shortcut, residual

    def __call__(self, model_input: np.ndarray) -> tuple[BlockSignal, ...]:
        """One preprocessed image (H×W×3) → one BlockSignal per block, input to output."""
        image = np.asarray(model_input, np.float32).reshape(1, *model_input.shape[-3:])
        shortcut, residual = (values.numpy()[0] for values in self._norms(image))
        return tuple(BlockSignal(block.name, block.kind, float(s), float(r))
                     for block, s, r in zip(self.blocks, shortcut, residual, strict=True))


def _norm(tensor):
    # float64 for the sum of squares: a 56×56×256 map has 800,000 terms
    return tf.sqrt(tf.reduce_sum(tf.square(tf.cast(tensor, tf.float64)), axis=[1, 2, 3]))
