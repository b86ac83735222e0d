"""What the network looked at: class activation maps, Grad-CAM at any layer, feature maps.

At the last feature map of a network that ends in global average pooling and a dense layer (ResNet-50's
conv5_block3_out → avg_pool → predictions), the gradient of class c's logit with respect to activation A_k at any
position is w_kc / (height × width), the same everywhere. Grad-CAM's channel weights are then the kernel column
itself, scaled, and Grad-CAM **is** the class activation map ReLU(Σ_k w_kc A_k) (Zhou et al. 2016; Selvaraju et al.
2017 §3.1) up to that scale, which normalising to [0, 1] removes. So the answering engines return that feature map
with the probabilities (`resnet.engines`), and a top-5's heat maps cost a 2048×5 product, no gradient
(`class_activation_maps`). Grad-CAM at any other layer takes the gradient (`Explainer`).
"""

from __future__ import annotations

import threading
import time

import keras
import numpy as np
import tensorflow as tf

# Re-exported: the values and the arithmetic without a gradient are TensorFlow-free (resnet.cam_maps).
from resnet.cam_maps import (  # noqa: F401
    CamHead, FeatureMaps, cam_from_gradients, class_activation_maps, strongest_channels, unit_range)

KEPT_FEATURE_EXTRACTORS = 8  # traced feature-map functions kept per network, most recently used


def spatial_layers(model: keras.Model) -> list[str]:
    """Names of the layers whose output is a feature map (batch, height, width, channels), input to output."""
    return [layer.name for layer in model.layers
            if not isinstance(layer, keras.layers.InputLayer) and len(layer.output.shape) == 4]


def grad_cam_layer(model: keras.Model) -> str:
    """The last feature map before global pooling: the output of the last residual stage (conv5_block3_out for
    ResNet-50, post_relu for the V2 nets)."""
    candidates = [name for name in spatial_layers(model) if min(model.get_layer(name).output.shape[1:3]) > 1]
    if not candidates:
        raise ValueError(f"{model.name} has no spatial feature map to explain")
    return candidates[-1]


def cam_head(model: keras.Model) -> CamHead | None:
    """The network's CamHead when it ends in feature map → global average pool → dense layer (every ImageNet
    ResNet), else None (e.g. the course's AvgPool → Flatten head): its heat maps then need the gradient."""
    head = model.layers[-1]
    if not isinstance(head, keras.layers.Dense) or len(head._inbound_nodes) != 1:
        return None
    pool = _only_parent(head)
    if not isinstance(pool, keras.layers.GlobalAveragePooling2D) or pool.keepdims or len(pool._inbound_nodes) != 1:
        return None
    source = _only_parent(pool)
    layer = grad_cam_layer(model)
    if source is None or source.name != layer:
        return None
    return CamHead(layer, np.asarray(head.kernel, np.float32))


def _only_parent(layer):
    parents = layer._inbound_nodes[0].parent_nodes
    return parents[0].operation if len(parents) == 1 else None


def grad_cam_function(model: keras.Model, layer: str):
    """A compiled (activations, d logit[class] / d activations) of `layer` for one image.

    The gradient is taken of the class's logit, not its softmax probability, as Grad-CAM prescribes: the softmax
    would mix in every other class. The logit is recomputed from the last layer's input with its own kernel.
    """
    head = model.layers[-1]
    if not isinstance(head, keras.layers.Dense):
        raise ValueError(f"Grad-CAM needs a Dense classifier on top; {model.name} ends in {type(head).__name__}")
    extractor = keras.Model(model.inputs[0], [model.get_layer(layer).output, head.input])
    signature = [tf.TensorSpec((1, *model.input_shape[1:]), tf.float32), tf.TensorSpec((), tf.int32)]

    @tf.function(input_signature=signature)
    def explain(x, class_index):
        with tf.GradientTape() as tape:
            activations, features = extractor(x, training=False)
            logits = tf.matmul(features, head.kernel) + (head.bias if head.use_bias else 0.0)
            score = logits[:, class_index]
        return activations, tape.gradient(score, activations)

    return explain


def grad_cam(model: keras.Model, model_input: np.ndarray, class_index: int, layer: str | None = None) -> np.ndarray:
    """Grad-CAM of one preprocessed image (H×W×3) for `class_index`, by the gradient; Explainer keeps the traced
    function."""
    explain = grad_cam_function(model, layer or grad_cam_layer(model))
    activations, gradients = explain(tf.convert_to_tensor(model_input[np.newaxis], tf.float32),
                                     tf.constant(class_index, tf.int32))
    return cam_from_gradients(activations.numpy()[0], gradients.numpy()[0])


def feature_extractor(model: keras.Model, layer: str):
    """A compiled function: one preprocessed image batch → the output of `layer`."""
    output = model.get_layer(layer).output
    if len(output.shape) != 4:
        raise ValueError(f"layer {layer} has no spatial output (shape {tuple(output.shape)})")
    extractor = keras.Model(model.inputs[0], output)
    signature = [tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)]
    return tf.function(lambda x: extractor(x, training=False), input_signature=signature)


def feature_maps(model: keras.Model, model_input: np.ndarray, layer: str, *, limit: int = 32) -> FeatureMaps:
    """The `limit` most active channels of `layer` for one preprocessed image, each scaled to [0, 1] on its own."""
    activations = feature_extractor(model, layer)(model_input[np.newaxis].astype(np.float32)).numpy()[0]
    return strongest_channels(layer, activations, limit)


class Explainer:
    """Grad-CAM by the gradient and feature maps, for one network, on preprocessed images: each traced function
    is made once per layer and kept (feature maps: the most recent few). Thread-safe; the caller queues it in its
    classifier's explanations lane (`Classifier.explaining`)."""

    def __init__(self, model: keras.Model):
        self.model = model
        self._lock = threading.Lock()
        self._grad_cams: dict[str, object] = {}
        self._feature_extractors: dict[str, object] = {}

    def grad_cam(self, model_input: np.ndarray, class_index: int, layer: str | None = None) -> np.ndarray:
        """Grad-CAM of `class_index` for one preprocessed image at `layer`: feature-map-sized, in [0, 1]."""
        explain = self._grad_cam_function(layer or grad_cam_layer(self.model))
        activations, gradients = explain(tf.convert_to_tensor(model_input[np.newaxis], tf.float32),
                                         tf.constant(class_index, tf.int32))
        return cam_from_gradients(activations.numpy()[0], gradients.numpy()[0])

    def feature_maps(self, model_input: np.ndarray, layer: str, *, limit: int = 32) -> FeatureMaps:
        with self._lock:
            extractor = self._feature_extractors.pop(layer, None) or feature_extractor(self.model, layer)
            self._feature_extractors[layer] = extractor  # most recently used last
            # a class browsing all 170 layers must not keep 170 graphs
            while len(self._feature_extractors) > KEPT_FEATURE_EXTRACTORS:
                del self._feature_extractors[next(iter(self._feature_extractors))]
        activations = extractor(model_input[np.newaxis].astype(np.float32)).numpy()[0]
        return strongest_channels(layer, activations, limit)

    def warm_up(self, layer: str | None = None) -> float:
        """Trace Grad-CAM at `layer` once (seconds of work); returns the ms it took."""
        start = time.perf_counter()
        self._grad_cam_function(layer or grad_cam_layer(self.model))(
            tf.zeros((1, *self.model.input_shape[1:])), tf.constant(0, tf.int32))
        return (time.perf_counter() - start) * 1000

    def _grad_cam_function(self, layer: str):
        with self._lock:
            if layer not in self._grad_cams:
                self._grad_cams[layer] = grad_cam_function(self.model, layer)
            return self._grad_cams[layer]
