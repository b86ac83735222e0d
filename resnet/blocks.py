"""The building blocks of every network in the architecture table.

One function per block, as in keras.applications: each takes a tensor and returns a tensor, and names its layers
through a `resnet.naming.BlockNames` so that one block can be found, grouped and drawn by name. Every block takes
`shortcut=False`, which builds its *plain twin*: the same main path, no addition, and no projection layers (a
plain network has nothing to project). With option-A shortcuts the two twins have exactly the same parameters.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from resnet.naming import BlockNames
from resnet.styles import ConvStyle  # noqa: F401 -- where the blocks' callers have always found it


@keras.saving.register_keras_serializable(package="resnet")
class ZeroPadShortcut(layers.Layer):
    """He et al.'s option A: subsample by `strides` and append zero channels. It has no parameters."""

    def __init__(self, strides: int, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.strides = strides
        self.channels = channels

    def call(self, x):
        x = x[:, :: self.strides, :: self.strides, :]
        extra = self.channels - x.shape[-1]
        return ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, extra]])

    def compute_output_shape(self, input_shape):
        def down(n):
            return None if n is None else -(-n // self.strides)

        batch, height, width, _ = input_shape
        return (batch, down(height), down(width), self.channels)

    def get_config(self):
        return {**super().get_config(), "strides": self.strides, "channels": self.channels}


def conv_bn(x, filters, kernel_size, *, names: BlockNames, branch, style: ConvStyle, strides=1, padding="valid",
            relu=True):
    """Conv → BatchNorm → ReLU, the unit every block is made of (BN and ReLU optional)."""
    x = style.conv(filters, kernel_size, strides=strides, padding=padding, name=names(branch, "conv"))(x)
    if style.batch_norm:
        x = style.bn(names(branch, "bn"))(x)
    if relu:
        x = layers.Activation("relu", name=names(branch, "relu"))(x)
    return x


def merge(shortcut, x, names: BlockNames):
    """H(x) = F(x) + x, then ReLU; with no shortcut (the plain twin) only the ReLU remains."""
    if shortcut is not None:
        # keras.applications adds [shortcut, x] in this order; float addition is commutative, but keeping the order
        # keeps the graph (and its diagram) identical.
        x = layers.Add(name=names(None, "add"))([shortcut, x])
    return layers.Activation("relu", name=names(None, "out"))(x)


def bottleneck_block(x, width, *, names: BlockNames, style: ConvStyle, strides=1, projection=False,
                     stride_on="1x1", expansion=4, shortcut=True):
    """1×1 (reduce) → 3×3 → 1×1 (restore ×4), the ResNet-50/101/152 block.

    `stride_on` says which conv of a down-sampling block strides: the first 1×1 (the paper and keras.applications)
    or the 3×3 (Model Garden's "v1.5", which sees every input pixel instead of skipping three in four).
    """
    if stride_on not in ("1x1", "3x3"):
        raise ValueError(f"stride_on must be '1x1' or '3x3', not {stride_on!r}")
    out_channels = expansion * width
    skip = None
    if shortcut:
        skip = (conv_bn(x, out_channels, 1, strides=strides, names=names, branch=0, style=style, relu=False)
                if projection else x)
    first, middle = (strides, 1) if stride_on == "1x1" else (1, strides)
    x = conv_bn(x, width, 1, strides=first, names=names, branch=1, style=style)
    x = conv_bn(x, width, 3, strides=middle, padding="same", names=names, branch=2, style=style)
    x = conv_bn(x, out_channels, 1, names=names, branch=3, style=style, relu=False)
    return merge(skip, x, names)


def identity_block(x, width, *, names: BlockNames, style: ConvStyle, shortcut=True, **kwargs):
    """A bottleneck block whose shortcut is its input: shapes in and out are equal."""
    return bottleneck_block(x, width, names=names, style=style, shortcut=shortcut, **kwargs)


def projection_block(x, width, *, names: BlockNames, style: ConvStyle, strides=2, shortcut=True, **kwargs):
    """The course's "convolutional block": a 1×1 conv + BN on the shortcut matches the new shape, y = F(x) + W_s x."""
    return bottleneck_block(x, width, names=names, style=style, strides=strides, projection=True,
                            shortcut=shortcut, **kwargs)


def basic_block(x, width, *, names: BlockNames, style: ConvStyle, strides=1, shortcut_kind="identity",
                shortcut=True):
    """3×3 → 3×3, the block of ResNet-18/34 and the CIFAR nets.

    `shortcut_kind` is "identity", "projection" (1×1 conv + BN, option B) or "zeros" (option A).
    """
    skip = None
    if shortcut:
        if shortcut_kind == "projection":
            skip = conv_bn(x, width, 1, strides=strides, names=names, branch=0, style=style, relu=False)
        elif shortcut_kind == "zeros":
            skip = ZeroPadShortcut(strides, width, name=names(0, "pad"))(x)
        elif shortcut_kind == "identity":
            skip = x
        else:
            raise ValueError(f"shortcut_kind must be 'identity', 'projection' or 'zeros', not {shortcut_kind!r}")
    x = conv_bn(x, width, 3, strides=strides, padding="same", names=names, branch=1, style=style)
    x = conv_bn(x, width, 3, padding="same", names=names, branch=2, style=style, relu=False)
    return merge(skip, x, names)


def preact_bottleneck_block(x, width, *, names: BlockNames, style: ConvStyle, strides=1, projection=False,
                            shortcut=True, expansion=4):
    """ResNet V2's block (He et al., 2016b): BN → ReLU come first, and the addition is left un-activated.

    As in keras.applications, the 3×3 conv strides (after explicit padding), the projection reads the
    pre-activation, and a strided identity shortcut is a 1×1 max-pool.
    """
    preact = x
    if style.batch_norm:
        preact = style.bn(names("preact", "bn"))(preact)
    preact = layers.Activation("relu", name=names("preact", "relu"))(preact)
    skip = None
    if shortcut:
        if projection:
            skip = style.conv(expansion * width, 1, strides=strides, name=names(0, "conv"), use_bias=True)(preact)
        elif strides > 1:
            skip = layers.MaxPooling2D(1, strides=strides, name=names(0, "pool"))(x)
        else:
            skip = x
    y = _preact_conv(preact, width, 1, names, 1, style)
    y = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name=names(2, "pad"))(y)
    y = _preact_conv(y, width, 3, names, 2, style, strides=strides)
    y = style.conv(expansion * width, 1, name=names(3, "conv"), use_bias=True)(y)
    if skip is None:
        return layers.Identity(name=names(None, "out"))(y)
    return layers.Add(name=names(None, "out"))([skip, y])


def _preact_conv(x, filters, kernel_size, names, branch, style, strides=1):
    # V2's inner convs have no bias: the BN that follows would cancel it.
    x = style.conv(filters, kernel_size, strides=strides, name=names(branch, "conv"), use_bias=False)(x)
    if style.batch_norm:
        x = style.bn(names(branch, "bn"))(x)
    return layers.Activation("relu", name=names(branch, "relu"))(x)
