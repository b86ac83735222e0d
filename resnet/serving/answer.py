"""The Answer role: crops in, top-k with each ranked class's heat map out, from an OpenVINO IR saved once.

This process imports no TensorFlow and no Keras: the IR (`resnet.serving.export`, run in a process of its own the
first time, or by `python -m resnet serve --export`) takes uint8 RGB crops and does the preprocessing itself; it
returns the probabilities and the last feature map, and the heat maps come from that map and the dense kernel saved
beside the IR (`resnet.cam_maps`, the same arithmetic the in-process Classifier uses). The IR holds fp32 weights, so
its answers equal the Classifier's to 1e-5.

Weights come as everywhere else (RESNET_WEIGHTS, RESNET_WEIGHTS_DIR, Keras' cache: `resnet.weights`), but are never
fetched here; without them the network gets random weights (seed 0) and every answer says `"pretrained": false`.
The IR's folder is keyed by architecture and weights identity (the file's md5, or the random seed).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from resnet import images, paths
from resnet.answers import DEFAULT_TOP, Prediction, labels_for, top_scores
from resnet.cam_maps import CamHead, class_activation_maps
from resnet.errors import UserError, WeightsUnavailable
from resnet.openvino_options import compile_config, output_places
from resnet.serving.export import MANIFEST
from resnet.weights import MD5, imagenet_weights_path, md5_of

ENGINE_BATCH = 4  # crops per infer call: as the Classifier (resnet.inference.ENGINE_BATCH), for the same reason
EXPORT_TIMEOUT_S = 900  # building and converting ResNet-152 on two busy cores
PRECISIONS = ("fp32", "bf16")


def ir_cache() -> Path:
    """Where exported IRs are kept: the explorer's cache (RESNET_CACHE_DIR, resnet.paths), folder `serve`."""
    return paths.cache_root() / "serve"


@dataclass(frozen=True)
class WeightsChoice:
    """Which weights an Answer replica uses: a file (`path`), or random ones of `seed` (and why: `problem`)."""

    path: str | None
    seed: int = 0
    problem: str | None = None

    def key(self, arch: str) -> str:
        """The IR folder's name: the same weights give the same folder, other weights another."""
        return f"{arch}-{md5_of(self.path)}" if self.path else f"{arch}-random-seed-{self.seed}"


def choose_weights(arch: str, weights: str | None = "imagenet", *, seed: int = 0) -> WeightsChoice:
    """"imagenet": keras.applications' file where resnet.weights finds it (never downloaded here; random weights
    and the reason otherwise); a path: that file; None: random weights of `seed`."""
    if weights is None:
        return WeightsChoice(None, seed)
    if weights != "imagenet":
        if not Path(weights).is_file():
            raise WeightsUnavailable(f"the weights file {weights} does not exist")
        return WeightsChoice(str(weights), seed)
    if arch not in MD5:  # the table names each architecture's ImageNet file after it (a test holds that)
        return WeightsChoice(None, seed, f"{arch} has no published ImageNet weights")
    try:
        return WeightsChoice(imagenet_weights_path(arch, download=False), seed)
    except WeightsUnavailable as exc:
        return WeightsChoice(None, seed, str(exc))


def ensure_ir(arch: str, choice: WeightsChoice, *, cache: Path | None = None) -> Path:
    """The IR folder for `arch` with `choice`, exported first (in a TensorFlow process of its own) if missing."""
    folder = (cache or ir_cache()) / choice.key(arch)
    if (folder / MANIFEST).is_file():
        return folder
    command = [sys.executable, "-m", "resnet.serving.export", "--arch", arch, "--out", str(folder),
               "--seed", str(choice.seed)]
    if choice.path:
        command += ["--weights", choice.path]
    if choice.problem:
        command += ["--problem", choice.problem]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(paths.ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(command, cwd=paths.ROOT, env=env, capture_output=True, text=True, timeout=EXPORT_TIMEOUT_S)
    if done.returncode != 0 or not (folder / MANIFEST).is_file():
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise UserError(f"exporting {arch} for the Answer role failed: {last}")
    return folder


class Answer:
    """One network's answers from its IR. Thread-safe: each call borrows an idle infer request of its precision."""

    def __init__(self, arch: str = "resnet50", weights: str | None = "imagenet", *, seed: int = 0,
                 folder: Path | None = None):
        import openvino  # here: a module that only names the role (the API's tests) need not load it

        start = time.perf_counter()
        choice = None if folder else choose_weights(arch, weights, seed=seed)
        self.folder = Path(folder) if folder else ensure_ir(arch, choice)
        manifest = json.loads((self.folder / MANIFEST).read_text())
        self.arch_name = manifest["arch"]
        self.pretrained = bool(manifest["pretrained"])
        self.weights_source = manifest["weights"]
        self.weights_problem = manifest.get("weights_problem")
        self.preprocessing = manifest["preprocessing"]
        self.input_size = tuple(manifest["input_size"])
        self.labels = labels_for(manifest["classes"])
        kernel = self.folder / "cam_kernel.npy"
        self.cam_head = CamHead(manifest["cam_layer"], np.load(kernel)) if manifest["cam_layer"] else None
        self._core = openvino.Core()
        self._model = self._core.read_model(self.folder / "model.xml")
        self.device = f"CPU ({self._core.get_property('CPU', 'FULL_DEVICE_NAME')})"
        self._bf16 = "BF16" in self._core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        self._lock = threading.Lock()
        self._compiled: dict[str, tuple[object, int, int | None, queue.SimpleQueue]] = {}
        self.answer(np.zeros((1, *self.input_size, 3), np.uint8))  # OpenVINO plans its first call: not a visitor's
        self.ready_s = time.perf_counter() - start

    def precisions(self) -> tuple[str, ...]:
        """fp32, and bf16 where the CPU computes it in hardware (OpenVINO's own report)."""
        return PRECISIONS if self._bf16 else ("fp32",)

    def ready_precisions(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(sorted(self._compiled))

    def _engine(self, precision: str):
        if precision not in self.precisions():
            raise UserError(f"precision {precision!r} is not offered here; use one of {', '.join(self.precisions())}")
        with self._lock:
            if precision not in self._compiled:
                compiled = self._core.compile_model(self._model, "CPU", compile_config(precision, "latency"))
                self._compiled[precision] = (compiled, *output_places(compiled), queue.SimpleQueue())
            return self._compiled[precision]

    def answer(self, crops: np.ndarray, *, top: int = DEFAULT_TOP, precision: str = "fp32",
               names: list[str] | None = None, start: float | None = None) -> list[Prediction]:
        """Crops (N×H×W×3 uint8 RGB, the network's input size) → one Prediction each, heat maps filled."""
        start = time.perf_counter() if start is None else start
        crops = np.asarray(crops)
        if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[1:] != (*self.input_size, 3):
            raise UserError(f"crops must be uint8 of shape (N, {self.input_size[0]}, {self.input_size[1]}, 3), "
                            f"not {crops.dtype} {tuple(crops.shape)}")
        if not 1 <= len(crops) <= images.MAX_PHOTOS:
            raise UserError(f"send 1 to {images.MAX_PHOTOS} crops at once, not {len(crops)}")
        compiled, probabilities_at, features_at, idle = self._engine(precision)
        probabilities, features = [], []
        for first in range(0, len(crops), ENGINE_BATCH):
            try:
                request = idle.get_nowait()
            except queue.Empty:
                request = compiled.create_infer_request()
            try:
                outputs = request.infer(np.ascontiguousarray(crops[first:first + ENGINE_BATCH]))
                probabilities.append(np.array(outputs[probabilities_at]))
                if features_at is not None:
                    features.append(np.array(outputs[features_at]))
            finally:
                idle.put(request)
        probabilities = np.concatenate(probabilities)
        features = np.concatenate(features) if features else None
        head = self.cam_head if features is not None else None
        tops = [top_scores(row, self.labels, top) for row in probabilities]
        cams = [class_activation_maps(f, head, [s.index for s in scores]) if head else {}
                for f, scores in zip(features if head else probabilities, tops, strict=True)]
        latency = (time.perf_counter() - start) * 1000
        names = names or [f"image {i + 1}" for i in range(len(crops))]
        return [Prediction(source=name, top=scores, latency_ms=latency, batch_size=len(crops), device=self.device,
                           engine="openvino", pretrained=self.pretrained, crop=crop, preprocessing=self.preprocessing,
                           precision=precision, cams=maps, cam_layer=head.layer if head else None)
                for name, scores, crop, maps in zip(names, tops, crops, cams, strict=True)]

    def predict(self, data: bytes, *, top: int = DEFAULT_TOP, precision: str = "fp32", crop_mode: str = "center",
                name: str = "image") -> Prediction:
        """A photo's bytes → its Prediction, decoded and cropped as the page and the CLI do (ImageError if it is not
        a photo this explorer reads)."""
        start = time.perf_counter()
        rgb = images.decode_image(data, name=name)
        crop = images.crop_for_model(rgb, self.input_size, crop_mode=crop_mode)
        del rgb
        return self.answer(crop[np.newaxis], top=top, precision=precision, names=[name], start=start)[0]

    def health(self) -> dict:
        return {"arch": self.arch_name, "pretrained": self.pretrained, "weights": self.weights_source,
                "weights_problem": self.weights_problem, "precisions": list(self.precisions()),
                "ready_precisions": list(self.ready_precisions()), "input_size": list(self.input_size),
                "preprocessing": self.preprocessing, "classes": len(self.labels),
                "cam_layer": self.cam_head.layer if self.cam_head else None,
                "device": self.device}
