"""Live inference: image bytes → top-k ImageNet classes, and what the network looked at (Grad-CAM, feature maps).

A `Classifier` is built once per server (the app caches it with st.cache_resource): it holds the Keras model, a
compiled forward pass (see `resnet.engines`), and warms that pass up at construction so the first user does not pay
for tracing. Several images go through as one batch. Gradients (Grad-CAM) always come from the TensorFlow model.

Random weights are only used when the caller asks for them (`allow_untrained=True`), and every prediction made with
them carries `pretrained=False`, so the page and the CLI can say UNTRAINED next to it.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from resnet import devices, engines, images, paths
from resnet.architectures import ARCHITECTURES, build, get
from resnet.errors import ImageError, WeightsUnavailable
from resnet.lanes import AnswersFirst
from resnet.weights import class_names, imagenet_weights_path

UNTRAINED_LABEL = "UNTRAINED (random weights) — not a real prediction"
DEFAULT_TOP = 5
KEPT_FEATURE_EXTRACTORS = 8  # traced feature-map functions kept per classifier, most recently used


@dataclass(frozen=True)
class ClassScore:
    index: int
    wnid: str
    label: str
    probability: float


@dataclass(frozen=True)
class Prediction:
    """The top-k classes of one image, and how they were obtained."""

    source: str
    top: tuple[ClassScore, ...]
    latency_ms: float  # the whole call (decode → crop → preprocess → forward → top-k) for its batch
    batch_size: int
    device: str
    engine: str
    pretrained: bool
    crop: np.ndarray = field(repr=False, compare=False)  # the uint8 image the model saw
    preprocessing: str = "caffe"  # how `crop` is scaled for the network (images.preprocess)
    precision: str = "fp32"  # what the forward pass computed in (the one used, not only the one asked for)

    @property
    def model_input(self) -> np.ndarray:
        """The crop after preprocess_input, made again when asked: a session keeps 150 KB per photo, not 750 KB."""
        return images.preprocess(self.crop, self.preprocessing)

    @property
    def caption(self) -> str:
        """How to introduce these classes to a reader: never as real predictions when the weights are random."""
        return "Top classes" if self.pretrained else UNTRAINED_LABEL

    def to_json(self) -> dict:
        return {
            "file": self.source,
            "top": [{"index": s.index, "label": s.label, "probability": s.probability} for s in self.top],
            "latency_ms": round(self.latency_ms, 3),
            "device": self.device,
            "engine": self.engine,
            "precision": self.precision,
            "pretrained": self.pretrained,
        }


@dataclass(frozen=True)
class FeatureMaps:
    layer: str
    channels: tuple[int, ...]  # channel numbers, most active first
    maps: np.ndarray  # (len(channels), height, width), each channel scaled to [0, 1] on its own

    def grid(self, columns: int = 8) -> np.ndarray:
        return feature_grid(self.maps, columns)

    def picture(self, columns: int = 8, *, min_width: int = 800) -> np.ndarray:
        """The grid as a grey uint8 image (white gaps), enlarged by whole pixels to at least `min_width` wide so
        that a 7×7 map is still seen as 49 squares: a few hundred KB as a PNG, not megabytes of chart data."""
        grid = self.grid(columns)
        pixels = np.where(np.isnan(grid), 255, np.rint(np.nan_to_num(grid) * 255)).astype(np.uint8)
        factor = max(1, -(-min_width // grid.shape[1]))
        return np.repeat(np.repeat(pixels, factor, axis=0), factor, axis=1)


class Classifier:
    """One model, one compiled forward pass, shared by every caller (thread-safe).

    Requests go through two lanes, `concurrency` at a time in each (`resnet.lanes`): answers (the forward pass
    behind a top-5) and explanations (Grad-CAM, feature maps, and what holds `explaining()`); an explanation starts
    only while no answer is computing or waiting, so a class's top-5s come before its Grad-CAMs.

    `background=True` (the app): when the engine wanted needs converting (OpenVINO), answer at once with TensorFlow
    and switch to the converted engine when a background thread has it ready (`switched`). Each
    Prediction names the engine and precision that actually computed it.
    """

    def __init__(self, model: keras.Model, *, pretrained: bool, weights_source: str, arch: str | None = None,
                 weights_problem: str | None = None, engine: str | None = None, precision: str | None = None,
                 crop_mode: str = "center", warm_up: bool = True, concurrency: int = 1, background: bool = False):
        self.model = model
        self.weights_problem = weights_problem  # why ImageNet weights were not used, when they were asked for
        self.arch_name = arch or model.name
        self.pretrained = pretrained
        self.weights_source = weights_source
        self.crop_mode = crop_mode
        self.input_size = tuple(model.input_shape[1:3])
        self.preprocessing = _preprocessing(self.arch_name)
        self.labels = _labels(model.output_shape[-1])
        self.precision = precision or engines.default_precision()
        requested = engine or engines.default_engine()
        engines.check_precision(self.precision, requested)
        self._lock = threading.Lock()
        self._lanes = AnswersFirst(concurrency)
        self._explainers: dict[str, tf.types.experimental.PolymorphicFunction] = {}
        self._feature_extractors: dict[str, tf.types.experimental.PolymorphicFunction] = {}
        self.switched = threading.Event()  # set once the engine wanted is the one answering
        self._engines: dict[str, object] = {}
        convert = background and engines.resolve_engine(requested) == "openvino"
        # Answering at once means plain TensorFlow: even folding BatchNorm (a second) is left to the background.
        self.engine = engines.make_engine(model, "tf" if convert else requested, self.precision)
        self.first_call_ms = self.warm_up() if warm_up else None
        if convert:  # after the warm-up, so the first answers do not share the cores with the conversion
            threading.Thread(target=self._switch_to_openvino, daemon=True, name=f"convert-{self.arch_name}").start()
        else:
            self.switched.set()

    @property
    def engine(self):
        """The engine answering at this classifier's own precision now."""
        return self._engines[self.precision]

    @engine.setter
    def engine(self, value) -> None:
        self._engines[self.precision] = value

    @property
    def device(self) -> str:
        return self.engine.device

    def precisions(self) -> tuple[str, ...]:
        """The precisions this classifier can answer in fast here: fp32, and bf16 where the hardware has it."""
        return ("fp32",) if devices.bf16_unavailable() else engines.PRECISIONS

    @classmethod
    def load(cls, arch: str = "resnet50", weights: str | None = "imagenet", *, allow_untrained: bool = False,
             seed: int = 0, **options) -> Classifier:
        """Build `arch` with `weights` ("imagenet", a file path, or None for random).

        Without usable weights this raises WeightsUnavailable, unless `allow_untrained`: then the network gets
        random weights (seeded), `pretrained` is False and `weights_problem` says why.
        """
        problem = None
        if weights == "imagenet":
            try:
                weights_name = get(arch).imagenet_weights
                if weights_name is None:
                    raise WeightsUnavailable(f"{arch} has no published ImageNet weights")
                with contextlib.redirect_stdout(sys.stderr):  # keras' download progress must not pollute --json
                    weights = imagenet_weights_path(weights_name)
            except WeightsUnavailable as exc:
                if not allow_untrained:
                    raise
                weights, problem = None, str(exc)
        elif weights is None and not allow_untrained:
            raise WeightsUnavailable("no weights were given; name a weights file, or allow random weights explicitly")
        if weights is None:
            model = build(arch, seed=seed)
            source = f"random weights (seed {seed})"
        else:
            model = build(arch, weights=weights)
            source = str(weights)
        return cls(model, pretrained=weights is not None, weights_source=source, arch=arch, weights_problem=problem,
                   **options)

    # --- engines -------------------------------------------------------------------------------------------------

    def _switch_to_openvino(self) -> None:
        folded = None
        try:
            folded = engines.make_engine(self.model, "tf-folded", "fp32")
            wanted = [self.precision] + [p for p in self.precisions() if p != self.precision]
            for precision in wanted:
                converted = engines.OpenVinoEngine(folded, precision)
                converted(np.zeros((1, *self.input_size, 3), np.float32))  # OpenVINO plans its first call: warm it
                with self._lock:
                    self._engines[precision] = converted
        except Exception as exc:  # noqa: BLE001 -- the TensorFlow engine keeps answering; say why it stayed
            warnings.warn(f"OpenVINO conversion of {self.arch_name} failed, TensorFlow keeps answering: {exc}",
                          RuntimeWarning, stacklevel=1)
        finally:
            del folded
            gc.collect()  # the folded Keras twin (~100 MB for a ResNet-50) is in reference cycles: free it now
            self.switched.set()

    def _engine_for(self, precision: str | None):
        """The engine for `precision`, made on first use where no background thread is making it; while one is,
        the classifier's own engine answers (and its Prediction says which precision it computed in)."""
        precision = precision or self.precision
        with self._lock:
            if precision in self._engines:
                return self._engines[precision]
        if not self.switched.is_set():
            return self.engine
        engines.check_precision(precision, "auto")
        made = engines.make_engine(self.model, None, precision)
        with self._lock:
            return self._engines.setdefault(precision, made)

    # --- classification ------------------------------------------------------------------------------------------

    def warm_up(self) -> float:
        """Run the forward pass once (tracing it, or letting OpenVINO plan it); returns that call's ms."""
        start = time.perf_counter()
        with self._lanes.answer():
            self.engine(np.zeros((1, *self.input_size, 3), np.float32))
        return (time.perf_counter() - start) * 1000

    def classify(self, items: Sequence[bytes | np.ndarray], *, names: Sequence[str] | None = None,
                 top: int = DEFAULT_TOP, crop_mode: str | None = None,
                 precision: str | None = None) -> list[Prediction]:
        """Classify images (encoded bytes, or decoded H×W×3 uint8 RGB arrays) as one batch.

        Raises ImageError for the first item that cannot be decoded; `classify_each` keeps going instead.
        """
        start = time.perf_counter()
        names = list(names) if names is not None else [f"image {i + 1}" for i in range(len(items))]
        crops = [self._crop(images.decode_image(item, name=name) if isinstance(item, (bytes, bytearray)) else item,
                            crop_mode) for item, name in zip(items, names, strict=True)]
        return self._classify_crops(crops, names, top, precision, start)

    def classify_each(self, named_items: Sequence[tuple[str, bytes]], *, top: int = DEFAULT_TOP,
                      crop_mode: str | None = None, precision: str | None = None) -> list[Prediction | ImageError]:
        """Like `classify`, but a file that cannot be decoded yields its ImageError in its place and the others
        are still classified (together, as one batch). Past `images.MAX_PHOTOS` files, each is refused unread."""
        start = time.perf_counter()
        results: list[Prediction | ImageError | None] = []
        good, good_names, slots = [], [], []
        for number, (name, data) in enumerate(named_items):
            try:
                if number >= images.MAX_PHOTOS:
                    raise images.over_max_photos(name)
                # Cropped at once: only one photo at a time is held at full size (up to 40 MP, 120 MB).
                good.append(self._crop(images.decode_image(data, name=name), crop_mode))
            except ImageError as exc:
                results.append(exc)
                continue
            good_names.append(name)
            slots.append(len(results))
            results.append(None)
        for slot, prediction in zip(slots, self._classify_crops(good, good_names, top, precision, start),
                                    strict=True):
            results[slot] = prediction
        return results

    def _crop(self, rgb: np.ndarray, crop_mode: str | None) -> np.ndarray:
        return images.crop_for_model(rgb, self.input_size, crop_mode=crop_mode or self.crop_mode)

    def _classify_crops(self, crops, names, top, precision, start) -> list[Prediction]:
        if not crops:
            return []
        batch = images.preprocess(np.stack(crops), self.preprocessing)
        engine = self._engine_for(precision)
        with self._lanes.answer():
            probabilities = engine(batch)
        tops = [self._top(row, top) for row in probabilities]
        latency = (time.perf_counter() - start) * 1000
        return [Prediction(source=name, top=scores, latency_ms=latency, batch_size=len(crops), device=engine.device,
                           engine=engine.name, pretrained=self.pretrained, crop=crop,
                           preprocessing=self.preprocessing, precision=engine.precision)
                for name, scores, crop in zip(names, tops, crops, strict=True)]

    def _top(self, probabilities: np.ndarray, k: int) -> tuple[ClassScore, ...]:
        return top_scores(probabilities, self.labels, k)

    @contextlib.contextmanager
    def explaining(self):
        """Hold a place in the explanations lane: for other heavy work on this network (lesions, fields)."""
        with self._lanes.explanation():
            yield

    # --- what the network looked at ------------------------------------------------------------------------------

    def grad_cam(self, prediction: Prediction, class_index: int, layer: str | None = None) -> np.ndarray:
        """Grad-CAM of `class_index` for the image behind `prediction`: feature-map-sized, in [0, 1]."""
        layer = layer or grad_cam_layer(self.model)
        explain = self._explainer(layer)
        x = tf.convert_to_tensor(prediction.model_input[np.newaxis], tf.float32)
        with self._lanes.explanation():
            activations, gradients = explain(x, tf.constant(class_index, tf.int32))
            activations, gradients = activations.numpy(), gradients.numpy()
        return _cam_from(activations[0], gradients[0])

    def feature_maps(self, prediction: Prediction, layer: str, *, limit: int = 32) -> FeatureMaps:
        with self._lock:
            extractor = self._feature_extractors.pop(layer, None) or feature_extractor(self.model, layer)
            self._feature_extractors[layer] = extractor  # most recently used last
            # a class browsing all 170 layers must not keep 170 graphs
            while len(self._feature_extractors) > KEPT_FEATURE_EXTRACTORS:
                del self._feature_extractors[next(iter(self._feature_extractors))]
        model_input = prediction.model_input[np.newaxis]
        with self._lanes.explanation():
            activations = extractor(model_input).numpy()[0]
        return _strongest_channels(layer, activations, limit)

    def warm_up_grad_cam(self) -> float:
        """Trace the default Grad-CAM once (seconds of work) so that the first user who asks does not wait."""
        start = time.perf_counter()
        explain = self._explainer(grad_cam_layer(self.model))
        with self._lanes.explanation():
            explain(tf.zeros((1, *self.input_size, 3)), tf.constant(0, tf.int32))
        return (time.perf_counter() - start) * 1000

    def _explainer(self, layer: str):
        with self._lock:
            if layer not in self._explainers:
                self._explainers[layer] = grad_cam_function(self.model, layer)
            return self._explainers[layer]


def top_scores(probabilities: np.ndarray, labels, k: int = DEFAULT_TOP) -> tuple[ClassScore, ...]:
    """The k most probable classes, most probable first; `labels` holds (wnid, label) per class."""
    k = max(1, min(k, probabilities.shape[-1]))
    best = np.argpartition(-probabilities, k - 1)[:k]
    best = best[np.argsort(-probabilities[best], kind="stable")]
    return tuple(ClassScore(int(i), *labels[i], float(probabilities[i])) for i in best)


# --- Grad-CAM and feature maps (model-level, usable without a Classifier) ---------------------------------------------


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
    """Grad-CAM of one preprocessed image (H×W×3) for `class_index`; see Classifier.grad_cam for the cached form."""
    explain = grad_cam_function(model, layer or grad_cam_layer(model))
    activations, gradients = explain(tf.convert_to_tensor(model_input[np.newaxis], tf.float32),
                                     tf.constant(class_index, tf.int32))
    return _cam_from(activations.numpy()[0], gradients.numpy()[0])


def _cam_from(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    channel_weights = gradients.mean(axis=(0, 1))  # each channel's importance for the class
    cam = np.maximum(activations @ channel_weights, 0)  # only what speaks *for* the class
    return _unit_range(cam)


def _unit_range(values: np.ndarray) -> np.ndarray:
    values = values.astype(np.float32)
    low, high = float(values.min()), float(values.max())
    if high - low <= 1e-12 * max(1.0, abs(high)):
        return np.zeros_like(values)  # nothing stands out: show nothing rather than amplify rounding noise
    return (values - low) / (high - low)


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
    return _strongest_channels(layer, activations, limit)


def _strongest_channels(layer: str, activations: np.ndarray, limit: int) -> FeatureMaps:
    strength = activations.mean(axis=(0, 1))
    order = np.argsort(-strength, kind="stable")[:limit]
    maps = np.stack([_unit_range(activations[..., c]) for c in order])
    return FeatureMaps(layer=layer, channels=tuple(int(c) for c in order), maps=maps)


def feature_grid(maps: np.ndarray, columns: int = 8, gap: int = 1) -> np.ndarray:
    """Tile (n, h, w) maps into one image, row by row, `gap` pixels apart; empty tiles and gaps are NaN (blank)."""
    n, height, width = maps.shape
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    grid = np.full((rows * height + (rows - 1) * gap, columns * width + (columns - 1) * gap), np.nan, np.float32)
    for i in range(n):
        r, c = divmod(i, columns)
        top, left = r * (height + gap), c * (width + gap)
        grid[top:top + height, left:left + width] = maps[i]
    return grid


def overlay(crop: np.ndarray, heat: np.ndarray, *, opacity: float = 0.45) -> np.ndarray:
    """The heat map (values in [0, 1], any size) coloured and laid over the uint8 crop the model saw."""
    height, width = crop.shape[:2]
    upsampled = np.asarray(Image.fromarray(heat.astype(np.float32), mode="F").resize((width, height),
                                                                                       Image.Resampling.BILINEAR))
    coloured = heat_colours(np.clip(upsampled, 0, 1))
    blended = (1 - opacity) * crop.astype(np.float32) + opacity * coloured
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


# Jet-like ramp: dark blue → blue → cyan → yellow → red → dark red.
_RAMP_STOPS = np.array([0.0, 0.125, 0.375, 0.625, 0.875, 1.0])
_RAMP_RGB = np.array([[0, 0, 143], [0, 0, 255], [0, 255, 255], [255, 255, 0], [255, 0, 0], [128, 0, 0]], np.float32)


def heat_colours(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] → float RGB (0–255) on a blue-to-red ramp."""
    return np.stack([np.interp(values, _RAMP_STOPS, _RAMP_RGB[:, channel]) for channel in range(3)], axis=-1)


# --- helpers ---------------------------------------------------------------------------------------------------------


def sample_images() -> dict[str, Path]:
    """The photos shipped in assets/samples (see assets/README for their sources and licences), by file name."""
    return {path.name: path for path in sorted(paths.SAMPLES.iterdir())
            if path.suffix.lower().lstrip(".") in images.UPLOAD_TYPES}


def _preprocessing(arch: str) -> str:
    return ARCHITECTURES[arch].preprocessing if arch in ARCHITECTURES else "caffe"


def _labels(classes: int) -> tuple[tuple[str, str], ...]:
    if classes == 1000:
        return class_names()
    return tuple((f"class_{i}", f"class {i}") for i in range(classes))
