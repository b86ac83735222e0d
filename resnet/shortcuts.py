"""The signal through the shortcuts: per block, how large the residual branch's output F(x) is against what the
shortcut carries (x, or W_s·x at a projection), for one image.

A block computes y = F(x) + x. If ‖F(x)‖ / ‖x‖ is small, the block makes a small correction to a signal that the
shortcut carries past it — the view of He et al. (2016) and of Veit et al.'s lesions. Norms are Euclidean, over the
whole tensor (every position and channel) of the one image.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from resnet.residual_blocks import BlockWalk


@dataclass(frozen=True)
class BlockSignal:
    block: str
    kind: str  # the block's shortcut: identity, projection, zeros or pooled
    shortcut_norm: float  # ‖x‖: what the shortcut hands to the addition
    residual_norm: float  # ‖F(x)‖: what the residual branch adds to it

    @property
    def ratio(self) -> float:
        return self.residual_norm / self.shortcut_norm if self.shortcut_norm else float("inf")

    def to_json(self) -> dict:
        return {"block": self.block, "kind": self.kind, "shortcut_norm": self.shortcut_norm,
                "residual_norm": self.residual_norm, "ratio": self.ratio}


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
