"""Heat maps and feature maps as values: the arithmetic that needs no gradient, and the results the page draws.

No TensorFlow here: the network tier's Answer role makes a top-5's heat maps from the feature map OpenVINO returns
(`class_activation_maps`, see `resnet.explaining` for why that is Grad-CAM at the last feature map), and a page
served by that tier rebuilds `FeatureMaps` from JSON.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from resnet.pictures import feature_grid, grey_picture


@dataclass(frozen=True)
class FeatureMaps:
    layer: str
    channels: tuple[int, ...]  # channel numbers, most active first
    maps: np.ndarray  # (len(channels), height, width), each channel scaled to [0, 1] on its own

    def grid(self, columns: int = 8) -> np.ndarray:
        return feature_grid(self.maps, columns)

    def picture(self, columns: int = 8, *, min_width: int = 800) -> np.ndarray:
        """The grid as a grey uint8 image (white gaps), see `pictures.grey_picture`."""
        return grey_picture(self.grid(columns), min_width=min_width)

    def to_json(self) -> dict:
        return {"layer": self.layer, "channels": list(self.channels),
                "maps": np.asarray(self.maps, np.float32).tolist()}

    @classmethod
    def from_json(cls, document: dict) -> FeatureMaps:
        maps = np.asarray(document["maps"], np.float32)
        return cls(layer=str(document["layer"]), channels=tuple(int(c) for c in document["channels"]),
                   maps=maps.reshape(len(document["channels"]), *maps.shape[1:]) if maps.size else maps)


@dataclass(frozen=True, eq=False)
class CamHead:
    """Where a network's class activation maps come from: the feature map `layer` and the dense kernel after its
    global average pool, (channels, classes)."""

    layer: str
    kernel: np.ndarray

    @functools.cached_property
    def by_class(self) -> np.ndarray:
        """The kernel as (classes, channels), C-contiguous."""
        return np.ascontiguousarray(self.kernel.T)


def class_activation_maps(features: np.ndarray, head: CamHead, classes) -> dict[int, np.ndarray]:
    """{class: ReLU(Σ_k w_kc A_k) scaled to [0, 1]} for one image's last feature map (height, width, channels):
    Grad-CAM at that layer, without a gradient (see `resnet.explaining`)."""
    classes = [int(c) for c in classes]
    # One class's weights are one contiguous row of the kernel's transpose: gathering five costs nothing. A matrix
    # product, not einsum: einsum does not reach BLAS here (0.13 against 0.06 ms for ResNet-50's top five).
    height, width, channels = features.shape
    weighted = (features.reshape(-1, channels) @ head.by_class[classes].T).T.reshape(len(classes), height, width)
    return {c: unit_range(np.maximum(maps, 0)) for c, maps in zip(classes, weighted, strict=True)}


def cam_from_gradients(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    channel_weights = gradients.mean(axis=(0, 1))  # each channel's importance for the class
    cam = np.maximum(activations @ channel_weights, 0)  # only what speaks *for* the class
    return unit_range(cam)


def unit_range(values: np.ndarray) -> np.ndarray:
    values = values.astype(np.float32)
    low, high = float(values.min()), float(values.max())
    if high - low <= 1e-12 * max(1.0, abs(high)):
        return np.zeros_like(values)  # nothing stands out: show nothing rather than amplify rounding noise
    return (values - low) / (high - low)


def strongest_channels(layer: str, activations: np.ndarray, limit: int) -> FeatureMaps:
    strength = activations.mean(axis=(0, 1))
    order = np.argsort(-strength, kind="stable")[:limit]
    maps = np.stack([unit_range(activations[..., c]) for c in order])
    return FeatureMaps(layer=layer, channels=tuple(int(c) for c in order), maps=maps)
