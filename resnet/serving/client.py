"""The page's side of the network tier: an HTTP client with no TensorFlow, and `RemoteClassifier`, which a page
holds where it would hold a `resnet.inference.Classifier` when RESNET_SERVE_URL is set.

One `ServeClient` per process: one urllib3 pool (connections kept alive between requests), a connect timeout of
3 s and a read timeout of 60 s (a lesion walk of ResNet-152 on busy cores), and one retry 0.2 s later for the
idempotent requests (answers and explanations: never a training run) when the tier fails or drops the connection:
a replica killed mid-request yields HTTP 500, and Serve has a replica back or another one ready by then. When the
tier cannot be reached at all, `ServeUnavailable` (a UserError) says so in one line.

RemoteClassifier's interface (what the Predict page and its panels call on Classifier, answered remotely):

    arch_name, pretrained, weights_problem, weights_source, labels, input_size, preprocessing, crop_mode, device,
    cam_layer                                             facts the tier reported at construction (/v1/health)
    precisions(), ready_precisions()                      tuples of "fp32"/"bf16"
    classify_each([(name, bytes)…], top=, crop_mode=, precision=) → [Prediction | ImageError], cams filled
    classify([bytes | H×W×3 uint8…], names=, top=, crop_mode=, precision=) → [Prediction] (ImageError raised)
    grad_cam(prediction, class_index, layer=None)        → 2-D map in [0, 1] (the answer's own at the last layer)
    feature_maps(prediction, layer, limit=32)             → resnet.cam_maps.FeatureMaps
    lesions(prediction, removals=())                      → resnet.lesion_result.LesionResult (each block, then sets)
    fields(prediction | None, layer, position=None)       → {"residual", "plain": EffectiveField, "box": Box,
                                                             "jump", "map_size", "position", "layer"}
    shortcuts(prediction)                                 → tuple of resnet.block_signal.BlockSignal
    layers()                                              → {"spatial_layers", "field_layers", "blocks", "cam_layer"}
    train(settings)                                       → a gradient-lab run's document (resnet.serving.train)
    explaining()                                          a context that does nothing: the tier queues explanations

Decoding and cropping happen here, in the page's process (resnet.images), so only 150 KB crops travel.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
import time
from collections.abc import Sequence
from urllib.parse import urlencode

import numpy as np
import urllib3

from resnet import images
from resnet.answers import DEFAULT_TOP, Prediction, labels_for
from resnet.block_signal import BlockSignal
from resnet.cam_maps import FeatureMaps
from resnet.errors import ImageError, UserError
from resnet.fields import Box, EffectiveField
from resnet.lesion_result import LesionResult

RETRY_AFTER_S = 0.2
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 60.0
TRAIN_TIMEOUT_S = 1200.0  # a run may take the server's max_run_seconds (900 s by default), then be measured
RETRIED_STATUSES = (500, 502, 503, 504)


class ServeUnavailable(UserError):
    """The network tier could not answer (down, unreachable, or failing)."""


def serve_url() -> str | None:
    """RESNET_SERVE_URL, if set: where the network tier listens (e.g. http://127.0.0.1:8000)."""
    return (os.environ.get("RESNET_SERVE_URL") or "").strip().rstrip("/") or None


class ServeClient:
    """JSON over one shared urllib3 pool; thread-safe (urllib3's pool is)."""

    def __init__(self, url: str, *, pool_size: int = 16, read_timeout: float = READ_TIMEOUT_S):
        if not url.startswith(("http://", "https://")):
            raise UserError(f"RESNET_SERVE_URL must start with http:// or https://, not {url[:60]!r}")
        self.url = url.rstrip("/")
        self._pool = urllib3.PoolManager(num_pools=2, maxsize=pool_size, retries=False,
                                         timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=read_timeout))
        self.retries = 0  # how many requests needed their retry (what a burst with a killed replica cost)
        self._lock = threading.Lock()

    def request(self, method: str, path: str, *, params: dict | None = None, body: bytes | None = None,
                content_type: str = "application/octet-stream", idempotent: bool = True,
                timeout: float | None = None):
        """The JSON the tier answered; UserError (ImageError for a 400) with its one line for what it refused,
        ServeUnavailable when it cannot answer, after one retry of an idempotent request."""
        query = f"?{urlencode({k: v for k, v in (params or {}).items() if v is not None})}" if params else ""
        url = f"{self.url}{path}{query}"
        options = {"body": body, "headers": {"Content-Type": content_type}}
        if timeout is not None:
            options["timeout"] = urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=timeout)
        attempts = 2 if idempotent else 1
        for attempt in range(attempts):
            try:
                response = self._pool.request(method, url, **options)
            except urllib3.exceptions.HTTPError as exc:
                problem = f"the network tier at {self.url} is not answering ({_reason(exc)})"
            else:
                if response.status < 500:
                    return _document(response)
                problem = f"the network tier at {self.url} failed ({_error_of(response)})"
            if attempt + 1 < attempts:
                with self._lock:
                    self.retries += 1
                time.sleep(RETRY_AFTER_S)
        raise ServeUnavailable(f"{problem}; try again in a moment, or ask the administrator to check it")

    def post_array(self, path: str, array: np.ndarray | None, **params):
        buffer = io.BytesIO()
        if array is not None:
            np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
        return self.request("POST", path, params=params, body=buffer.getvalue())


def _document(response):
    try:
        document = json.loads(response.data or b"null")
    except ValueError:
        raise ServeUnavailable(f"the network tier answered HTTP {response.status} without JSON") from None
    if response.status >= 400:
        message = document.get("error") if isinstance(document, dict) else None
        message = message or f"HTTP {response.status}"
        raise (ImageError if response.status == 400 else UserError)(message)
    return document


def _error_of(response) -> str:
    try:
        return f"HTTP {response.status}: {json.loads(response.data)['error']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status}"


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or exc
    return " ".join(type(reason).__name__.split()) if not str(reason) else " ".join(str(reason).split())[:160]


class RemoteClassifier:
    """A Classifier's answers and explanations from the network tier (see the module's docstring)."""

    def __init__(self, url: str | None = None, *, client: ServeClient | None = None, crop_mode: str = "center"):
        url = url or serve_url()
        if client is None and url is None:
            raise UserError("no network tier named: set RESNET_SERVE_URL=http://host:port")
        self.client = client or ServeClient(url)
        facts = self.client.request("GET", "/v1/health")["answer"]
        self.arch_name = facts["arch"]
        self.identity = self.arch_name  # what tells its answers apart in a session's photo cache, as Classifier's
        self.pretrained = bool(facts["pretrained"])
        self.weights_source = facts["weights"]
        self.weights_problem = facts.get("weights_problem")
        self.input_size = tuple(facts["input_size"])
        self.preprocessing = facts["preprocessing"]
        self.labels = labels_for(int(facts["classes"]))
        self.cam_layer = facts.get("cam_layer")
        self.device = facts["device"]
        self.crop_mode = crop_mode
        self._precisions = tuple(facts["precisions"])
        self.precision = "fp32"

    def precisions(self) -> tuple[str, ...]:
        return self._precisions

    def ready_precisions(self) -> tuple[str, ...]:
        return tuple(self.client.request("GET", "/v1/health")["answer"]["ready_precisions"])

    @contextlib.contextmanager
    def explaining(self):
        yield  # the tier queues explanations behind answers itself (its own replicas)

    # --- answers -------------------------------------------------------------------------------------------------

    def classify_each(self, named_items: Sequence[tuple[str, bytes]], *, top: int = DEFAULT_TOP,
                      crop_mode: str | None = None, precision: str | None = None) -> list[Prediction | ImageError]:
        """As Classifier.classify_each: a file that cannot be decoded yields its ImageError in its place."""
        slots, crops, names, _ = images.crop_each(named_items, self.input_size,
                                                  crop_mode=crop_mode or self.crop_mode)
        return images.answers_in_place(slots, self._answer(crops, names, top, precision))

    def classify(self, items: Sequence[bytes | np.ndarray], *, names: Sequence[str] | None = None,
                 top: int = DEFAULT_TOP, crop_mode: str | None = None,
                 precision: str | None = None) -> list[Prediction]:
        names = list(names) if names is not None else [f"image {i + 1}" for i in range(len(items))]
        crops = [images.crop_for_model(images.decode_image(item, name=name) if isinstance(item, (bytes, bytearray))
                                       else item, self.input_size, crop_mode=crop_mode or self.crop_mode)
                 for item, name in zip(items, names, strict=True)]
        return self._answer(crops, names, top, precision)

    def _answer(self, crops, names, top, precision) -> list[Prediction]:
        if not crops:
            return []
        documents = self.client.post_array("/v1/answer", np.stack(crops), top=top, precision=precision or "fp32")
        return [Prediction.from_json({**document, "file": name}, crop=crop, preprocessing=self.preprocessing,
                                     labels=self.labels)
                for document, crop, name in zip(documents, crops, names, strict=True)]

    # --- explanations --------------------------------------------------------------------------------------------

    def grad_cam(self, prediction: Prediction, class_index: int, layer: str | None = None) -> np.ndarray:
        if layer in (None, prediction.cam_layer) and class_index in prediction.cams:
            return prediction.cams[class_index]
        document = self.client.post_array("/v1/explain/gradcam", prediction.crop, **{"class": class_index,
                                                                                      "layer": layer})
        return np.asarray(document["map"], np.float32)

    def feature_maps(self, prediction: Prediction, layer: str, *, limit: int = 32) -> FeatureMaps:
        return FeatureMaps.from_json(self.client.post_array("/v1/explain/features", prediction.crop, layer=layer,
                                                            limit=limit))

    def lesions(self, prediction: Prediction, removals: Sequence[Sequence[str]] = ()) -> LesionResult:
        remove = ",".join("+".join(r) for r in removals) or None
        return LesionResult.from_json(self.client.post_array("/v1/explain/lesions", prediction.crop, remove=remove))

    def fields(self, prediction: Prediction | None, layer: str, position: tuple[int, int] | None = None) -> dict:
        row, col = position if position is not None else (None, None)
        document = self.client.post_array("/v1/explain/fields", None if prediction is None else prediction.crop,
                                          layer=layer, row=row, col=col)
        return {**document, "box": Box.from_json(document["box"]), "position": tuple(document["position"]),
                "residual": EffectiveField.from_json(document["residual"]),
                "plain": EffectiveField.from_json(document["plain"])}

    def shortcuts(self, prediction: Prediction) -> tuple[BlockSignal, ...]:
        document = self.client.post_array("/v1/explain/shortcuts", prediction.crop)
        return tuple(BlockSignal.from_json(block) for block in document["blocks"])

    def layers(self) -> dict:
        return self.client.request("GET", "/v1/explain/layers")

    def train(self, settings: dict) -> dict:
        return self.client.request("POST", "/v1/train", body=json.dumps(settings).encode(),
                                   content_type="application/json", idempotent=False, timeout=TRAIN_TIMEOUT_S)
