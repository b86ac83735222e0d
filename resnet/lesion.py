"""Lesions (Veit, Wilber & Belongie, NeurIPS 2016): take residual blocks out of a network at test time.

A removed block passes on its shortcut alone — what it outputs when its residual branch is zero: relu(x) = x for a
v1 identity block, relu(W_s·x) for a projection block, the shortcut itself in V2. `LesionNet` computes the intact
network and any number of lesioned ones for one image in one call of one traced function, on the network's own
layers (no copy of the weights). Removing each of ResNet-50's 16 blocks in turn is 17 rows, but the rows share
everything before their first removed block, which runs once (see BlockWalk): about 1 s on two CPU cores shared
with other work, where the same 17 networks as full rows of one batch take 1.7 s (`python -m resnet bench --only
lesions`).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from resnet.errors import UserError
# Re-exported: the result is a TensorFlow-free value (resnet.lesion_result).
from resnet.lesion_result import LesionResult, removal_name  # noqa: F401
from resnet.residual_blocks import BlockWalk, ResidualBlock, find_blocks

MAX_LESIONS = 64  # lesioned networks per call: every block of ResNet-152 (50) in turn, and a few chosen sets


class LesionNet:
    """Lesioned versions of one built network of the table (`arch_name`), for one image at a time."""

    def __init__(self, model: keras.Model, arch_name: str):
        self.arch_name = arch_name
        self._walk = BlockWalk(model, arch_name)
        self.blocks: tuple[ResidualBlock, ...] = self._walk.blocks
        self._index = {block.name: i for i, block in enumerate(self.blocks)}
        count = len(self.blocks)
        signature = [tf.TensorSpec((1, *model.input_shape[1:]), tf.float32),
                     tf.TensorSpec((None, count), tf.float32), tf.TensorSpec((count,), tf.int32)]
        self._forward = tf.function(lambda x, scale, joins: self._walk(x, scale=scale, joins=joins),
                                    input_signature=signature)

    @property
    def block_names(self) -> tuple[str, ...]:
        return tuple(block.name for block in self.blocks)

    def check(self, removals: Sequence[Sequence[str]]) -> tuple[tuple[str, ...], ...]:
        """The removals as tuples of block names in network order; refuses unknown blocks, empty sets, too many."""
        if len(removals) > MAX_LESIONS:
            raise UserError(f"at most {MAX_LESIONS} lesioned networks at a time, not {len(removals)}")
        checked = []
        for removed in removals:
            if not removed:
                raise UserError("a lesion must remove at least one block")
            checked.append(tuple(block.name for block in find_blocks(self.arch_name, removed)))
        return tuple(checked)

    def __call__(self, model_input: np.ndarray, removals: Sequence[Sequence[str]]) -> LesionResult:
        """The intact network and one lesioned network per entry of `removals` (each a set of block names), on
        one preprocessed image (H×W×3), as one batch."""
        removed = self.check(removals)
        first = [min(self._index[name] for name in blocks) for blocks in removed]
        order = sorted(range(len(removed)), key=first.__getitem__)  # rows join the batch in network order
        scale = np.ones((1 + len(removed), len(self.blocks)), np.float32)
        for row, i in enumerate(order, start=1):
            scale[row, [self._index[name] for name in removed[i]]] = 0.0
        joins = np.bincount(np.array(first, dtype=np.int64), minlength=len(self.blocks)).astype(np.int32)
        image = np.asarray(model_input, np.float32).reshape(1, *model_input.shape[-3:])
        probabilities = self._forward(image, scale, joins).numpy()
        lesioned = np.empty((len(removed), probabilities.shape[-1]), probabilities.dtype)
        lesioned[order] = probabilities[1:]
        return LesionResult(removed=removed, intact=probabilities[0], lesioned=lesioned)

    def each_block(self, model_input: np.ndarray, *, also: Sequence[Sequence[str]] = ()) -> LesionResult:
        """Every block removed in turn (then the sets in `also`), in the same one batch."""
        return self(model_input, [(name,) for name in self.block_names] + [tuple(s) for s in also])

