"""How one network's convolutions and BatchNorms are made (`ConvStyle`): a row of the architecture table holds one.

Apart from the blocks (resnet/blocks.py) so that the table can be read without Keras: a page served by a separate
network tier (RESNET_SERVE_URL) lists the networks, their titles and input sizes without loading TensorFlow. Keras
is imported when a style first makes a layer.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class ConvStyle:
    """How every convolution and BatchNorm of one network is made; the source articles' ResNet-50s differ in it."""

    use_bias: bool = True
    kernel_initializer: str = "glorot_uniform"
    weight_decay: float = 0.0  # L2 on every kernel (Model Garden: 1e-4)
    bn_epsilon: float = 1.001e-5
    bn_momentum: float = 0.99
    batch_norm: bool = True  # False drops every BatchNormalization (the gradient lab's switch)
    seed: int | None = None  # None: keras draws fresh initial weights

    def initializer(self, layer_name: str):
        """The kernel initialiser of one layer. With a seed, each layer's seed comes from (seed, its name) alone,
        not from keras' global generator, which other threads (other sessions building at the same time) draw from
        too; so a seeded build is the same in any thread, and a plain twin starts from its residual net's weights."""
        if self.seed is None:
            return self.kernel_initializer
        import keras  # noqa: PLC0415

        initializer = keras.initializers.get(self.kernel_initializer)
        layer_seed = zlib.crc32(f"{self.seed}/{layer_name}".encode()) & 0x7FFFFFFF
        return initializer.__class__.from_config({**initializer.get_config(), "seed": layer_seed})

    def regularizer(self):
        import keras  # noqa: PLC0415

        return keras.regularizers.L2(self.weight_decay) if self.weight_decay else None

    def conv(self, filters, kernel_size, *, strides=1, padding="valid", name, use_bias=None):
        from keras import layers  # noqa: PLC0415

        return layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            use_bias=self.use_bias if use_bias is None else use_bias,
            kernel_initializer=self.initializer(name),
            kernel_regularizer=self.regularizer(),
            name=name,
        )

    def bn(self, name):
        from keras import layers  # noqa: PLC0415

        return layers.BatchNormalization(axis=-1, epsilon=self.bn_epsilon, momentum=self.bn_momentum, name=name)
