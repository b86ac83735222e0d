"""The Explain role (TensorFlow): Grad-CAM at any layer, feature maps, lesions, receptive fields and the shortcut
signal of one crop, each computed by the library's own objects (resnet.explaining, resnet.lesion, resnet.receptive,
resnet.shortcuts) on a network with the Answer role's weights, and returned as those objects' JSON (`to_json`), which
a client turns back into the same objects (`from_json`).

Each probe is made on first use and kept: a replica that is only asked for Grad-CAM never traces a lesion walk.
Calls are serialised per replica (one lock): two on two cores would only slow each other down, and Serve queues the
rest or sends them to another replica.
"""

from __future__ import annotations

import threading
from dataclasses import asdict

import numpy as np

from resnet import images
from resnet.errors import UserError
from resnet.serving.answer import choose_weights

MAX_FEATURE_MAPS = 256  # channels in one answer: 256 maps of 56×56 are ~3 MB of JSON


class Explain:
    def __init__(self, arch: str = "resnet50", weights: str | None = "imagenet", *, seed: int = 0):
        from resnet.architectures import build, get
        from resnet.explaining import Explainer, grad_cam_layer, spatial_layers

        choice = choose_weights(arch, weights, seed=seed)  # the Answer role's very weights
        self.arch_name = arch
        self.pretrained = choice.path is not None
        self.model = build(arch, weights=choice.path) if choice.path else build(arch, seed=choice.seed)
        self.preprocessing = get(arch).preprocessing
        self.input_size = tuple(self.model.input_shape[1:3])
        self.explainer = Explainer(self.model)
        self.cam_layer = grad_cam_layer(self.model)
        self.layers = spatial_layers(self.model)
        self._probes: dict[str, object] = {}
        self._lock = threading.Lock()

    # --- what a client needs to ask -----------------------------------------------------------------------------

    def layers_document(self) -> dict:
        """The names a client offers its user: layers with a feature map, where a field's unit may sit (with its map
        size and the pixels between neighbouring units), and the residual blocks a lesion may remove."""
        from resnet.receptive import field_layers
        from resnet.residual_blocks import residual_blocks

        probe = self._probe("field-residual")
        return {"arch": self.arch_name, "cam_layer": self.cam_layer, "spatial_layers": self.layers,
                "field_layers": [{"name": name, "map_size": list(probe.map_size(name)), "jump": probe.jump(name)}
                                 for name in field_layers(self.arch_name)],
                "blocks": [asdict(block) for block in residual_blocks(self.arch_name)]}

    # --- explanations of one crop -------------------------------------------------------------------------------

    def grad_cam(self, crop: np.ndarray, class_index: int, layer: str | None = None) -> dict:
        layer = layer or self.cam_layer
        self._check_layer(layer)
        classes = int(self.model.output_shape[-1])
        if not 0 <= class_index < classes:
            raise UserError(f"class must be 0 to {classes - 1}, not {class_index}")
        with self._lock:
            heat_map = self.explainer.grad_cam(self._input(crop), class_index, layer)
        return {"layer": layer, "class": class_index, "map": np.asarray(heat_map, np.float64).round(6).tolist()}

    def feature_maps(self, crop: np.ndarray, layer: str, *, limit: int = 32) -> dict:
        self._check_layer(layer)
        if not 1 <= limit <= MAX_FEATURE_MAPS:
            raise UserError(f"limit must be 1 to {MAX_FEATURE_MAPS}, not {limit}")
        with self._lock:
            return self.explainer.feature_maps(self._input(crop), layer, limit=limit).to_json()

    def lesions(self, crop: np.ndarray, removals: list[list[str]] | None = None) -> dict:
        """Every block removed in turn, then each set in `removals` (blocks removed together)."""
        net = self._probe("lesions")
        also = [tuple(r) for r in removals or ()]
        net.check(also)  # unknown blocks and empty sets are refused before any work
        with self._lock:
            return net.each_block(self._input(crop), also=also).to_json()

    def fields(self, crop: np.ndarray | None, layer: str, position: tuple[int, int] | None = None) -> dict:
        """The effective field of the unit at `position` (default: the map's centre) of `layer`, in the network and
        in its plain twin, on the crop (None: noise images, as the page shows without a photo)."""
        from resnet.receptive import field_layers, noise_images

        if layer not in field_layers(self.arch_name):
            raise UserError(f"{self.arch_name} has no field layer {layer!r}; ask /v1/explain/layers for them")
        residual, plain = self._probe("field-residual"), self._probe("field-plain")
        height, width = residual.map_size(layer)
        position = tuple(position) if position is not None else (height // 2, width // 2)
        box = residual.box(layer, position)  # refuses a position off the map before any gradient
        inputs = (self._input(crop)[np.newaxis] if crop is not None
                  else noise_images((*self.input_size, 3), self.preprocessing))
        with self._lock:
            found = {"residual": residual.field(layer, position, inputs), "plain": plain.field(layer, position, inputs)}
        return {"layer": layer, "position": list(position), "map_size": [height, width], "box": box.to_json(),
                "jump": residual.jump(layer), **{name: f.to_json(heat=True) for name, f in found.items()}}

    def shortcuts(self, crop: np.ndarray) -> dict:
        probe = self._probe("shortcuts")
        with self._lock:
            return {"blocks": [signal.to_json() for signal in probe(self._input(crop))]}

    # --- helpers -----------------------------------------------------------------------------------------------

    def _input(self, crop: np.ndarray) -> np.ndarray:
        crop = np.asarray(crop)
        if crop.ndim == 4 and len(crop) == 1:
            crop = crop[0]
        if crop.dtype != np.uint8 or crop.shape != (*self.input_size, 3):
            raise UserError(f"send one uint8 crop of shape ({self.input_size[0]}, {self.input_size[1]}, 3), not "
                            f"{crop.dtype} {tuple(crop.shape)}")
        return images.preprocess(crop, self.preprocessing)

    def _check_layer(self, layer: str) -> None:
        if layer not in self.layers:
            raise UserError(f"{self.arch_name} has no layer {layer!r} with a feature map; ask /v1/explain/layers")

    def _probe(self, kind: str):
        with self._lock:
            if kind not in self._probes:
                self._probes[kind] = self._make(kind)
            return self._probes[kind]

    def _make(self, kind: str):
        if kind == "lesions":
            from resnet.lesion import LesionNet

            return LesionNet(self.model, self.arch_name)
        if kind == "shortcuts":
            from resnet.shortcuts import ShortcutProbe

            return ShortcutProbe(self.model, self.arch_name)
        from resnet.receptive import FieldProbe, plain_twin

        return FieldProbe(self.model if kind == "field-residual" else plain_twin(self.model, self.arch_name))
