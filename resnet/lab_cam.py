"""Grad-CAM for a lab net, many times over: one traced function per net and layer, reused for every image (the
confusion matrix's cells) and across weight changes (the sanity check assigns new weights to the same variables).

The map is resnet.inference's: channels weighted by the mean gradient of the class's logit, ReLU, scaled to [0, 1].
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from resnet.explaining import grad_cam_function, grad_cam_layer


class LabCam:
    def __init__(self, model: keras.Model, layer: str | None = None):
        self.layer = layer or grad_cam_layer(model)
        self._explain = grad_cam_function(model, self.layer)

    def __call__(self, model_input: np.ndarray, class_index: int) -> np.ndarray:
        """Grad-CAM of one lab input (H×W×3, centred as the net sees it) for `class_index`, in [0, 1]."""
        activations, gradients = self._explain(tf.constant(model_input[np.newaxis], tf.float32),
                                               tf.constant(class_index, tf.int32))
        cam = np.maximum(activations.numpy()[0] @ gradients.numpy()[0].mean(axis=(0, 1)), 0)
        low, high = float(cam.min()), float(cam.max())
        if high - low <= 1e-12 * max(1.0, abs(high)):
            return np.zeros_like(cam, np.float32)  # nothing stands out: show nothing rather than rounding noise
        return ((cam - low) / (high - low)).astype(np.float32)
