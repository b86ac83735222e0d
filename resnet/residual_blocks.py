"""The residual blocks of a network, read from the architecture table, and a forward pass that reaches into them.

Every block ends in an addition of two tensors, `[shortcut, residual branch]` in that order (blocks.merge and
blocks.preact_bottleneck_block both add them so, as keras.applications does). `BlockWalk` runs a built network layer
by layer, reusing its layers and weights, and at each block's addition can scale the residual branch (a lesion: 0
removes the block) or hand both inputs out (how much the branch adds to what the shortcut carries). It calls the
layers on tensors inside a `tf.function`, not on Keras symbols, so the network's own graph gains no nodes: Grad-CAM,
the per-layer table and BatchNorm folding, which read that graph, see it as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from resnet.architectures import get
from resnet.errors import UserError
from resnet.naming import BlockNames, locate
from resnet.table import inbound_layer_names


@dataclass(frozen=True)
class ResidualBlock:
    name: str  # keras.applications' prefix of its layers: conv4_block3 (res4c in the course's scheme)
    stage: int  # 2 = conv2 …
    number: int  # 1-based within its stage
    kind: str  # shortcut: "identity", "projection" (1×1 conv), "zeros" (option A) or "pooled" (V2's strided max-pool)
    add_layer: str  # the addition of shortcut and residual branch
    out_layer: str  # the block's output (the addition itself in V2, the ReLU after it in v1)


def residual_blocks(arch_name: str) -> tuple[ResidualBlock, ...]:
    """Every residual block of a network of the table, input to output."""
    arch = get(arch_name)
    blocks = []
    channels = arch.stem_width
    for index, depth in enumerate(arch.depths):
        width, stride = arch.widths[index], arch.strides[index]
        for number in range(1, depth + 1):
            names = BlockNames(index + 2, number, arch.naming)
            add = names(None, "out" if arch.block == "preact_bottleneck" else "add")
            blocks.append(ResidualBlock(names.prefix, index + 2, number,
                                        _kind(arch, number, depth, stride, channels, width), add,
                                        names(None, "out")))
            channels = width
    return tuple(blocks)


def _kind(arch, number, depth, stride, channels, width) -> str:
    # Mirrors architectures._block: which shortcut each block of the row gets.
    if arch.block == "basic":
        if number == 1 and (stride > 1 or channels != width):
            return arch.shortcut
        return "identity"
    if number == 1:
        return "projection"
    if arch.block == "preact_bottleneck" and number == depth and stride > 1:
        return "pooled"
    return "identity"


def find_blocks(arch_name: str, names) -> tuple[ResidualBlock, ...]:
    """The blocks called `names` (any order, repeats ignored), in network order; one line naming the valid ones for
    a name the network does not have."""
    blocks = residual_blocks(arch_name)
    by_name = {block.name: block for block in blocks}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise UserError(f"{arch_name} has no block {unknown[0]!r}; its blocks are {blocks[0].name} … "
                        f"{blocks[-1].name} ({len(blocks)} in all)")
    wanted = set(names)
    return tuple(block for block in blocks if block.name in wanted)


class BlockWalk:
    """A built network of the table, run layer by layer with a hand on each block's two summands."""

    def __init__(self, model: keras.Model, arch_name: str):
        self.model = model
        self.blocks = residual_blocks(arch_name)
        self._plan = [(layer, inbound_layer_names(layer)) for layer in model.layers]
        self._block_at = {block.add_layer: i for i, block in enumerate(self.blocks)}
        for block in self.blocks:
            self._check(block)

    def _check(self, block: ResidualBlock) -> None:
        try:
            layer = self.model.get_layer(block.add_layer)
        except ValueError:
            raise UserError(f"{self.model.name} has no layer {block.add_layer}: not a residual network of the "
                            "table (a plain twin has no shortcuts to study)") from None
        summands = inbound_layer_names(layer)
        if not isinstance(layer, keras.layers.Add) or len(summands) != 2 or locate(summands[1])[:2] != (
                block.stage, block.number):
            raise ValueError(f"{block.add_layer} does not add [shortcut, residual branch of {block.name}]")

    def __call__(self, x, *, scale=None, joins=None, summands: list | None = None):
        """The network's output for the batch `x` (call inside a tf.function).

        `scale` (rows, blocks) multiplies each block's residual branch, row by row. With `joins` (blocks,) as well,
        `x` is one image and rows join the batch where they first differ from it: at block i, `joins[i]` copies of
        row 0's two summands are appended before scaling. A lesioned row is the intact one up to its first removed
        block, so that block and everything before it run once, not once per row; `scale` must list the rows in
        the order they join (row 0, never scaled, first). `summands`, if given, receives each block's
        (shortcut, residual branch) as computed.
        """
        values = {}
        for layer, inbound in self._plan:
            if not inbound:
                values[layer.name] = x
                continue
            args = [values[name] for name in inbound]
            i = self._block_at.get(layer.name)
            if i is not None:
                shortcut, residual = args
                if summands is not None:
                    summands.append((shortcut, residual))
                if joins is not None:
                    shortcut = tf.concat([shortcut, tf.repeat(shortcut[:1], joins[i], axis=0)], axis=0)
                    residual = tf.concat([residual, tf.repeat(residual[:1], joins[i], axis=0)], axis=0)
                if scale is not None:
                    rows = tf.shape(residual)[0]
                    residual = residual * tf.reshape(scale[:rows, i], [-1, 1, 1, 1])
                args = [shortcut, residual]
            values[layer.name] = layer(args if len(args) > 1 else args[0], training=False)
        return values[self._plan[-1][0].name]
