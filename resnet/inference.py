"""Answering: image bytes → top-k ImageNet classes, each with its heat map from the same forward pass.

A `Classifier` is built once per server (the app caches it with st.cache_resource): it holds the Keras model, a
compiled forward pass (see `resnet.engines`), and warms that pass up at construction so the first user does not pay
for tracing. Several images go through as one batch. The engine returns the last feature map with the
probabilities, so each ranked class's Grad-CAM comes with the answer (`resnet.explaining`); Grad-CAM at other layers
and feature maps take the TensorFlow model's gradients and activations, in the explanations lane.

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

import keras
import numpy as np

from resnet import devices, engines, images
# Re-exported: what an answer is lives where the page can read it without TensorFlow.
from resnet.answers import (  # noqa: F401
    DEFAULT_TOP, UNTRAINED_LABEL, ClassScore, Prediction, labels_for, top_scores)
from resnet.architectures import ARCHITECTURES, build, get
from resnet.errors import ImageError, WeightsUnavailable
from resnet.images import sample_images  # noqa: F401 -- where callers have always found it
from resnet.explaining import Explainer, FeatureMaps, cam_head, class_activation_maps, grad_cam_layer
from resnet.lanes import AnswersFirst
from resnet.processes import give_memory_back
from resnet.weights import imagenet_weights_path

# Photos per engine call. OpenVINO keeps each infer request's buffers at the largest batch it has run: a page of ten
# photos as one batch left 88 MB more held for good (batches of four: 41 MB) and was no faster per photo here.
ENGINE_BATCH = 4
LARGE_DECODES = 16_000_000  # pixels decoded in one request past which freed memory is handed back (malloc_trim)


class Classifier:
    """One model, one compiled forward pass, shared by every caller (thread-safe).

    Requests go through two lanes, `concurrency` at a time in each (`resnet.lanes`): answers (the forward pass
    behind a top-5 and its heat maps; as many at once as the engine computes side by side, `engine.parallel`, when
    that is more) and explanations (Grad-CAM by the gradient, feature maps, and what holds `explaining()`); an
    explanation starts only while no answer is computing or waiting, so a class's top-5s come before its other
    explanations.

    `background=True` (the app): when the engine wanted needs converting (engines.KINDS), answer at once with TensorFlow
    and switch to the converted engine when a background thread has it ready (`switched`). Each
    Prediction names the engine and precision that actually computed it.
    """

    def __init__(self, model: keras.Model, *, pretrained: bool, weights_source: str, arch: str | None = None,
                 weights_problem: str | None = None, engine: str | None = None, precision: str | None = None,
                 crop_mode: str = "center", warm_up: bool = True, concurrency: int = 1, background: bool = False,
                 heat_maps: bool = True, labels: Sequence[tuple[str, str]] | None = None,
                 preprocessing: str | None = None, identity: str | None = None, hint: str = "latency"):
        self.model = model
        self.weights_problem = weights_problem  # why ImageNet weights were not used, when they were asked for
        self.arch_name = arch or model.name
        # What tells this network's answers apart from another's in a cache: the architecture, unless two networks
        # of one architecture can meet (a session's trained nets: resnet.trained_classifier).
        self.identity = identity or self.arch_name
        self.pretrained = pretrained
        self.weights_source = weights_source
        self.crop_mode = crop_mode
        self.input_size = tuple(model.input_shape[1:3])
        self.preprocessing = preprocessing or _preprocessing(self.arch_name)
        self.labels = tuple(labels) if labels is not None else labels_for(model.output_shape[-1])
        # Where the answers' heat maps come from, if they can come from the answer and are wanted (heat_maps=False:
        # the engines return the probabilities alone, e.g. `predict` without --cam).
        self.cam_head = cam_head(model) if heat_maps else None
        self.precision = precision or engines.default_precision()
        # OpenVINO's performance hint (engines.HINTS): "latency" for the soonest single answer (the CLI); a server
        # of many sessions asks for "throughput", and its answers lane is then as wide as the engine's streams.
        engines.check_hint(hint)  # here too: the OpenVINO engine may be made later, in a background thread
        self.hint = hint
        requested = engine or engines.default_engine()
        engines.check_precision(self.precision, requested)
        self._lock = threading.Lock()
        self._lanes = AnswersFirst(concurrency)
        self._explainer: Explainer | None = None
        self.switched = threading.Event()  # set once the engine wanted is the one answering
        self._engines: dict[str, object] = {}
        self._converting: set[str] = set()  # precisions being made in the background
        self.background = background
        wanted = engines.resolve_engine(requested)
        convert = background and engines.KINDS[wanted].converts
        # Answering at once means plain TensorFlow: even folding BatchNorm (a second) is left to the background.
        self.engine = engines.make_engine(model, "tf" if convert else requested, self.precision, features=heat_maps,
                                          pixels=self.preprocessing, hint=hint)
        self.first_call_ms = self.warm_up() if warm_up else None
        if convert:  # after the warm-up, so the first answers do not share the cores with the conversion
            self._converting.add(self.precision)
            threading.Thread(target=self._convert_in_background, args=(wanted,), daemon=True,
                             name=f"convert-{self.arch_name}").start()
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

    def ready_precisions(self) -> tuple[str, ...]:
        """The precisions an engine is ready for now (others are made when first asked for)."""
        with self._lock:
            return tuple(sorted(self._engines))

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

    def _convert_in_background(self, engine: str, precision: str | None = None) -> None:
        """Make `engine` at `precision` (default: the classifier's own) and answer with it once it is warm. Other
        precisions are made the same way when first asked for: a bf16 engine is 160 MB (`resnet.memory_budget`)
        that a class that never asks for bf16 should not hold."""
        precision = precision or self.precision
        try:
            self._convert(engine, precision)  # its locals (the engine it replaced among them) go when it returns
        except Exception as exc:  # noqa: BLE001 -- the TensorFlow engine keeps answering; say why it stayed
            warnings.warn(f"{engine} {precision} conversion of {self.arch_name} failed, TensorFlow keeps answering: "
                          f"{exc}", RuntimeWarning, stacklevel=1)
        finally:
            with self._lock:
                self._converting.discard(precision)
            gc.collect()  # what the conversion traced and copied is in reference cycles: free it now
            give_memory_back()
            if precision == self.precision:
                self.switched.set()

    def _convert(self, engine: str, precision: str) -> None:
        source = self._engines.get("fp32")
        source = source if isinstance(source, engines.TensorFlowEngine) else None  # the one traced at start
        converted = engines.make_engine(self.model, engine, precision, source=source,
                                        features=self.cam_head is not None, pixels=self.preprocessing, hint=self.hint)
        converted.warm(np.zeros((1, *self.input_size, 3), np.float32))
        with self._lock:
            self._engines[precision] = converted

    def _engine_for(self, precision: str | None):
        """The engine for `precision`. While the wanted engine is being made in the background (the app), the
        classifier's own engine answers, and its Prediction says which precision it computed in; elsewhere (the
        CLI) it is made on first use."""
        precision = precision or self.precision
        with self._lock:
            if precision in self._engines:
                return self._engines[precision]
            converting = precision in self._converting
        if not self.switched.is_set() or converting:
            return self.engine
        engines.check_precision(precision, "auto")
        wanted = engines.resolve_engine(engines.default_engine())
        if self.background and engines.KINDS[wanted].converts:
            with self._lock:
                if precision not in self._converting and precision not in self._engines:
                    self._converting.add(precision)
                    threading.Thread(target=self._convert_in_background, args=(wanted, precision), daemon=True,
                                     name=f"convert-{self.arch_name}-{precision}").start()
            return self.engine
        made = engines.make_engine(self.model, None, precision, features=self.cam_head is not None,
                                   pixels=self.preprocessing, hint=self.hint)
        with self._lock:
            return self._engines.setdefault(precision, made)

    # --- classification ------------------------------------------------------------------------------------------

    def warm_up(self) -> float:
        """Run the forward pass once (tracing it, or letting OpenVINO plan each of its requests); returns the ms."""
        start = time.perf_counter()
        with self._lanes.answer():
            self.engine.warm(np.zeros((1, *self.input_size, 3), np.float32))
        return (time.perf_counter() - start) * 1000

    def classify(self, items: Sequence[bytes | np.ndarray], *, names: Sequence[str] | None = None,
                 top: int = DEFAULT_TOP, crop_mode: str | None = None,
                 precision: str | None = None) -> list[Prediction]:
        """Classify images (encoded bytes, or decoded H×W×3 uint8 RGB arrays) as one batch.

        Raises ImageError for the first item that cannot be decoded; `classify_each` keeps going instead.
        """
        start = time.perf_counter()
        names = list(names) if names is not None else [f"image {i + 1}" for i in range(len(items))]
        crops = [self._crop(images.open_image(item, name=name, fit=self.input_size)
                            if isinstance(item, (bytes, bytearray)) else item,
                            crop_mode) for item, name in zip(items, names, strict=True)]
        return self._classify_crops(crops, names, top, precision, start)

    def classify_each(self, named_items: Sequence[tuple[str, bytes]], *, top: int = DEFAULT_TOP,
                      crop_mode: str | None = None, precision: str | None = None) -> list[Prediction | ImageError]:
        """Like `classify`, but a file that cannot be decoded yields its ImageError in its place and the others
        are still classified (together, as one batch). Past `images.MAX_PHOTOS` files, each is refused unread."""
        start = time.perf_counter()
        slots, crops, names, pixels = images.crop_each(named_items, self.input_size,
                                                       crop_mode=crop_mode or self.crop_mode)
        if pixels > LARGE_DECODES:
            give_memory_back()  # the full-size photos are gone; their pages need not stay with the server
        return images.answers_in_place(slots, self._classify_crops(crops, names, top, precision, start))

    def _crop(self, rgb, crop_mode: str | None) -> np.ndarray:
        return images.crop_for_model(rgb, self.input_size, crop_mode=crop_mode or self.crop_mode)

    def _classify_crops(self, crops, names, top, precision, start) -> list[Prediction]:
        if not crops:
            return []
        engine = self._engine_for(precision)
        parts = []
        for first in range(0, len(crops), ENGINE_BATCH):
            batch = np.stack(crops[first:first + ENGINE_BATCH])
            if not engine.takes_pixels:  # an engine that does not scale uint8 crops in its own graph
                batch = images.preprocess(batch, self.preprocessing)
            with self._lanes.answer(max(engine.parallel, self._lanes.width)):
                parts.append(engine.answer(batch))
        probabilities = np.concatenate([p for p, _ in parts])
        features = None if parts[0][1] is None else np.concatenate([f for _, f in parts])
        tops = [self._top(row, top) for row in probabilities]
        # The ranked classes' heat maps, from the feature map the same call returned (resnet.explaining).
        head = self.cam_head if features is not None else None
        cams = [class_activation_maps(f, head, [s.index for s in scores]) if head else {}
                for f, scores in zip(features if head else probabilities, tops, strict=True)]
        latency = (time.perf_counter() - start) * 1000
        return [Prediction(source=name, top=scores, latency_ms=latency, batch_size=len(crops), device=engine.device,
                           engine=engine.name, pretrained=self.pretrained, crop=crop,
                           preprocessing=self.preprocessing, precision=engine.precision, cams=maps,
                           cam_layer=head.layer if head else None)
                for name, scores, crop, maps in zip(names, tops, crops, cams, strict=True)]

    def _top(self, probabilities: np.ndarray, k: int) -> tuple[ClassScore, ...]:
        return top_scores(probabilities, self.labels, k)

    @contextlib.contextmanager
    def explaining(self):
        """Hold a place in the explanations lane: for other heavy work on this network (lesions, fields)."""
        with self._lanes.explanation():
            yield

    # --- what the network looked at ------------------------------------------------------------------------------

    def grad_cam(self, prediction: Prediction, class_index: int, layer: str | None = None) -> np.ndarray:
        """Grad-CAM of `class_index` for the image behind `prediction`: feature-map-sized, in [0, 1]. At the last
        feature map, for the classes the answer ranked, it is the answer's own map (no gradient, no queue); anywhere
        else it takes the gradient, in the explanations lane."""
        if layer in (None, prediction.cam_layer) and class_index in prediction.cams:
            return prediction.cams[class_index]  # (cam_layer is grad_cam_layer, which walks every layer to find it)
        layer = layer or grad_cam_layer(self.model)
        model_input = prediction.model_input
        with self._lanes.explanation():
            return self.explainer.grad_cam(model_input, class_index, layer)

    def feature_maps(self, prediction: Prediction, layer: str, *, limit: int = 32) -> FeatureMaps:
        model_input = prediction.model_input
        with self._lanes.explanation():
            return self.explainer.feature_maps(model_input, layer, limit=limit)

    @property
    def explainer(self) -> Explainer:
        """The network's gradients and feature maps, made on first use (a page that only answers never traces)."""
        with self._lock:
            if self._explainer is None:
                self._explainer = Explainer(self.model)
            return self._explainer


# --- helpers ---------------------------------------------------------------------------------------------------------


def _preprocessing(arch: str) -> str:
    return ARCHITECTURES[arch].preprocessing if arch in ARCHITECTURES else "caffe"
