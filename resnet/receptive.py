"""How far a unit sees: its theoretical receptive field (a box of input pixels) and its effective one.

The theoretical field of the element at (row, column) of a layer's map comes from the per-layer table (resnet.table:
receptive_field, jump, field_start): rows field_start + row·jump … + receptive_field − 1, and likewise for columns.
It is every pixel the element could depend on, padding included, so it may reach past the image.

The effective field (Luo et al., NeurIPS 2016, "Understanding the effective receptive field in deep convolutional
neural networks") is how much the element does depend on each pixel: |∂ unit / ∂ input|, summed over the three
colour channels, where the unit is the sum of the layer's channels at that position (a gradient of 1 placed at one
position of the map and 0 elsewhere, as Luo et al. do). It is zero outside the box, and Luo et al. found it far
smaller than the box and roughly Gaussian; its radii holding 50% and 90% of the gradient mass summarise it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from resnet import images, table
from resnet.architectures import build, get
from resnet.errors import UserError
# Re-exported: the results are TensorFlow-free values (resnet.fields).
from resnet.fields import Box, EffectiveField, summarise  # noqa: F401
from resnet.residual_blocks import residual_blocks

KEPT_FUNCTIONS = 8  # traced gradient functions kept per network, most recently used
MAX_INPUTS = 8  # images averaged over in one call
NOISE_IMAGES = 4  # random images a field is averaged over when there is no photo


def field_box(rows: pd.DataFrame, layer: str, position: tuple[int, int]) -> Box:
    """The theoretical receptive field of element `position` (row, column) of `layer`'s map, from the per-layer
    table of its network."""
    found = rows[rows.name == layer]
    if found.empty:
        raise UserError(f"no layer {layer!r} in this network")
    row = found.iloc[0]
    check_position(layer, tuple(row.output_shape), position)
    size, jump, start = int(row.receptive_field), int(row.jump), int(row.field_start)
    top, left = start + position[0] * jump, start + position[1] * jump
    return Box(top, left, top + size - 1, left + size - 1)


def check_position(layer: str, output_shape: tuple, position: tuple[int, int]) -> None:
    if len(output_shape) != 3:
        raise UserError(f"{layer} has no spatial map (its output is {output_shape})")
    height, width = output_shape[:2]
    if not (0 <= position[0] < height and 0 <= position[1] < width):
        raise UserError(f"position {position[0]},{position[1]} is outside {layer}'s {height}×{width} map; rows and "
                        f"columns count from 0 to {height - 1} and {width - 1}")


def field_layers(arch_name: str) -> list[str]:
    """Where a student may place a unit: the stem's output, then every residual block's output (the same names in
    the residual network and its plain twin)."""
    return [get(arch_name).stem_output, *(block.out_layer for block in residual_blocks(arch_name))]


def plain_twin(model: keras.Model, arch_name: str) -> keras.Model:
    """`model`'s plain twin (no shortcuts) holding `model`'s own kernels, without the classifier: the same network
    with the shortcuts cut, so a difference between their fields is the shortcuts' doing."""
    batch_norm = any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    twin = build(arch_name, plain=True, include_top=False, input_shape=model.input_shape[1:], batch_norm=batch_norm)
    for layer in twin.layers:
        if layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    return twin


def noise_images(input_shape: tuple, preprocessing: str, *, count: int = NOISE_IMAGES, seed: int = 0) -> np.ndarray:
    """Uniform random pixels, preprocessed as the network's photos are: inputs for a field without a photo."""
    pixels = np.random.default_rng(seed).integers(0, 256, (count, *input_shape), dtype=np.uint8)
    return images.preprocess(pixels, preprocessing)


class FieldProbe:
    """Theoretical and effective fields of any unit of one built network (thread-safe; traced once per layer)."""

    def __init__(self, model: keras.Model, *, keep: int = KEPT_FUNCTIONS):
        self.model = model
        self.rows = table.layer_table(model)
        self.input_shape = tuple(model.input_shape[1:])
        self._keep = keep
        self._functions: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()

    def map_size(self, layer: str) -> tuple[int, int]:
        shape = tuple(self.model.get_layer(layer).output.shape[1:])
        check_position(layer, shape, (0, 0))
        return shape[0], shape[1]

    def box(self, layer: str, position: tuple[int, int]) -> Box:
        return field_box(self.rows, layer, position)

    def jump(self, layer: str) -> int:
        """Input pixels between neighbouring units of `layer`'s map."""
        return int(self.rows.set_index("name").loc[layer, "jump"])

    def field(self, layer: str, position: tuple[int, int], inputs: np.ndarray) -> EffectiveField:
        """The effective field of the unit at `position` of `layer`, averaged over `inputs` (N×H×W×3,
        preprocessed)."""
        box = self.box(layer, position)
        inputs = np.asarray(inputs, np.float32).reshape(-1, *self.input_shape)
        if not 1 <= len(inputs) <= MAX_INPUTS:
            raise UserError(f"a field is averaged over 1 to {MAX_INPUTS} images, not {len(inputs)}")
        heat = self._function(layer)(inputs, tf.constant(position, tf.int32)).numpy()
        return summarise(heat, box)

    def _function(self, layer: str):
        with self._lock:
            function = self._functions.pop(layer, None) or _gradient_function(self.model, layer)
            self._functions[layer] = function  # most recently used last
            while len(self._functions) > self._keep:
                self._functions.popitem(last=False)
            return function


def _gradient_function(model: keras.Model, layer: str):
    extractor = keras.Model(model.inputs[0], model.get_layer(layer).output)
    signature = [tf.TensorSpec((None, *model.input_shape[1:]), tf.float32), tf.TensorSpec((2,), tf.int32)]

    @tf.function(input_signature=signature)
    def field(x, position):
        with tf.GradientTape() as tape:
            tape.watch(x)
            # the images do not meet in inference mode, so one gradient of the sum is each image's own gradient
            unit = tf.reduce_sum(extractor(x, training=False)[:, position[0], position[1], :])
        return tf.reduce_mean(tf.reduce_sum(tf.abs(tape.gradient(unit, x)), axis=-1), axis=0)

    return field

