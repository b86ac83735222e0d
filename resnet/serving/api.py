"""The network tier's HTTP API, as a plain Starlette app (`create_app`): Ray Serve wraps it (`serve.ingress`), and
tests and a one-process server run it as it is. Every body is counted as it arrives and refused past its cap before
it is all read; every answer is JSON; every error is `{"error": "<one line>"}` with no traceback or server path.

    GET  /v1/health                         → {"status": "ok", "answer": {arch, pretrained, weights, precisions…}}
    POST /v1/predict?top=5&precision=fp32&crop=center   body: a photo's bytes (≤ images.MAX_UPLOAD_MB)
         → {"top": [{"index", "label", "probability"}], "cam": {"layer", "class", "map"}, "cams": {"<class>": map},
            "engine", "precision", "device", "pretrained", "latency_ms", "file", "batch_size"}
    POST /v1/answer?top=5&precision=fp32    body: .npy of N×H×W×3 uint8 crops (N ≤ images.MAX_PHOTOS)
         → a list of such answers, in order
    GET  /v1/explain/layers                 → {"spatial_layers", "field_layers", "blocks", "cam_layer"}
    POST /v1/explain/gradcam?class=C&layer=L          body: one crop as .npy → {"layer", "class", "map"}
    POST /v1/explain/features?layer=L&limit=32        → FeatureMaps.to_json()
    POST /v1/explain/lesions?remove=b1+b2,b3          → LesionResult.to_json() (each block, then each set)
    POST /v1/explain/fields?layer=L&row=R&col=C       (body optional: none = noise images)
         → {"layer", "position", "map_size", "box", "jump", "residual": EffectiveField, "plain": EffectiveField}
    POST /v1/explain/shortcuts                        → {"blocks": [BlockSignal.to_json()]}
    POST /v1/train                          body: JSON settings (resnet.serving.train.SETTINGS) → the run's document

Status codes: 400 a body that is not a photo or not a .npy of crops (ImageError's own line), 413 a body over its
cap, 422 a parameter or setting refused, 500 anything unexpected (logged here, never described), 503 a role that
is not deployed here. JSON numbers may be `Infinity` where a ratio has a zero denominator (Python reads it).

The work is done by roles (`resnet.serving.answer`, `explain`, `train`) reached through a backend: `LocalBackend`
calls them in this process, `resnet.serving.deployments` through Ray Serve's handles. Both run each call through
`role_call` in the role's own process, so only one-line outcomes cross the wire.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Awaitable, Callable

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from resnet import images
from resnet.answers import Prediction
from resnet.errors import ImageError, UserError

log = logging.getLogger("resnet.serving")

MB = 1024 * 1024
PHOTO_CAP = images.MAX_UPLOAD_MB * MB
NPY_HEADER = 64 * 1024  # room for a .npy header, however it is padded
CROP_BYTES = 224 * 224 * 3  # the largest input of the table's ImageNet networks
CROPS_CAP = images.MAX_PHOTOS * CROP_BYTES + NPY_HEADER
ONE_CROP_CAP = CROP_BYTES + NPY_HEADER
SETTINGS_CAP = 64 * 1024
MAX_TOP = 1000
EXPLANATIONS = ("gradcam", "features", "lesions", "fields", "shortcuts")
# What a client may reach of each role: nothing else is callable through `role_call`.
ROLE_METHODS = {"answer": {"predict", "answer", "health"},
                "explain": {"grad_cam", "feature_maps", "lesions", "fields", "shortcuts", "layers_document"},
                "train": {"run"}}


class Problem(Exception):
    """An HTTP error with its one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, one_line(message)


def one_line(text) -> str:
    return " ".join(str(text).split())[:500] or "error"


def jsonable(value):
    """A role's return value as JSON values: Predictions as their answer document, with every ranked class's map."""
    if isinstance(value, Prediction):
        document = value.to_json(cam=True, cams=True)
        document["batch_size"] = value.batch_size
        return document
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def role_call(role, method: str, args: tuple = (), kwargs: dict | None = None) -> dict:
    """Call `role.method` and say how it went in a small dict: {"value": …} or {"status", "error"} for what the
    caller did wrong. Run where the role lives, so that an exception's traceback never crosses to the ingress;
    anything unexpected propagates (a 500 the ingress logs)."""
    if method not in set().union(*ROLE_METHODS.values()) or not hasattr(role, method):
        raise AttributeError(f"{type(role).__name__} offers no {method!r}")
    try:
        return {"value": jsonable(getattr(role, method)(*args, **(kwargs or {})))}
    except ImageError as exc:
        return {"status": 400, "error": one_line(exc)}
    except UserError as exc:
        return {"status": 422, "error": one_line(exc)}


Backend = Callable[[str, str, tuple, dict], Awaitable[dict]]


class LocalBackend:
    """The roles in this process (tests, a one-process server): each call in Starlette's thread pool."""

    def __init__(self, **roles):
        self.roles = {name: role for name, role in roles.items() if role is not None}

    async def __call__(self, role: str, method: str, args: tuple, kwargs: dict) -> dict:
        if role not in self.roles:
            raise Problem(503, f"the {role} role is not deployed on this server")
        return await run_in_threadpool(role_call, self.roles[role], method, args, kwargs)


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content) -> bytes:
        return json.dumps(content, allow_nan=True, separators=(",", ":")).encode()


def create_app(backend: Backend) -> Starlette:
    async def call(role: str, method: str, *args, **kwargs):
        outcome = await backend(role, method, args, kwargs)
        if "error" in outcome:
            raise Problem(outcome["status"], outcome["error"])
        return outcome["value"]

    async def health(request: Request):
        return {"status": "ok", "answer": await call("answer", "health")}

    async def predict(request: Request):
        query = request.query_params
        options = dict(top=_top(query), precision=_choice(query, "precision", ("fp32", "bf16"), "fp32"),
                       crop_mode=_choice(query, "crop", images.CROP_MODES, "center"))
        data = await read_body(request, PHOTO_CAP, "the photo")
        return await call("answer", "predict", data, name="photo", **options)

    async def answer(request: Request):
        query = request.query_params
        options = dict(top=_top(query), precision=_choice(query, "precision", ("fp32", "bf16"), "fp32"))
        crops = load_crops(await read_body(request, CROPS_CAP, "the crops"))
        if len(crops) > images.MAX_PHOTOS:
            raise Problem(422, f"send at most {images.MAX_PHOTOS} crops at once, not {len(crops)}")
        return await call("answer", "answer", crops, **options)

    async def layers(request: Request):
        return await call("explain", "layers_document")

    async def explain(request: Request):
        kind, query = request.path_params["kind"], request.query_params
        if kind not in EXPLANATIONS:
            raise Problem(404, f"no explanation {kind!r}; use one of {', '.join(EXPLANATIONS)}")
        body = await read_body(request, ONE_CROP_CAP, "the crop")
        if kind == "fields":
            crop = load_crops(body, one=True) if body else None
            position = None
            if "row" in query or "col" in query:
                position = (_integer(query, "row", 0, 4096), _integer(query, "col", 0, 4096))
            return await call("explain", "fields", crop, _text(query, "layer"), position)
        crop = load_crops(body, one=True)
        if kind == "gradcam":
            return await call("explain", "grad_cam", crop, _integer(query, "class", 0, 1_000_000),
                              query.get("layer") or None)
        if kind == "features":
            return await call("explain", "feature_maps", crop, _text(query, "layer"),
                              limit=_integer(query, "limit", 1, 4096, default=32))
        if kind == "lesions":
            removals = [r.split("+") for r in query.get("remove", "").split(",") if r] if query.get("remove") else []
            return await call("explain", "lesions", crop, removals)
        return await call("explain", "shortcuts", crop)

    async def train(request: Request):
        body = await read_body(request, SETTINGS_CAP, "the settings")
        try:
            settings = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise Problem(400, "the settings are not JSON; send a JSON object") from None
        return await call("train", "run", settings)

    def endpoint(handler):
        async def guarded(request: Request) -> Response:
            try:
                return JSONResponse(await handler(request))
            except Problem as problem:
                return JSONResponse({"error": problem.message}, status_code=problem.status)
            except Exception:  # noqa: BLE001 -- logged in full here; the client hears one line, no path
                log.exception("%s %s failed", request.method, request.url.path)
                return JSONResponse({"error": "the network tier failed on this request; it was logged"},
                                    status_code=500)
        return guarded

    routes = [Route("/v1/health", endpoint(health), methods=["GET"]),
              Route("/v1/predict", endpoint(predict), methods=["POST"]),
              Route("/v1/answer", endpoint(answer), methods=["POST"]),
              Route("/v1/explain/layers", endpoint(layers), methods=["GET"]),
              Route("/v1/explain/{kind}", endpoint(explain), methods=["POST"]),
              Route("/v1/train", endpoint(train), methods=["POST"])]
    return Starlette(routes=routes)


# --- reading what a client sends -------------------------------------------------------------------------------------

async def read_body(request: Request, cap: int, what: str) -> bytes:
    """The body, refused (413) past `cap` bytes: by its Content-Length before reading, and by counting as it
    streams in (a client may lie, or send chunks without a length)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Problem(400, "Content-Length is not a number")
        if int(declared) > cap:
            raise Problem(413, f"{what} is {int(declared) / MB:.1f} MB, over the {cap / MB:.1f} MB limit")
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > cap:
            raise Problem(413, f"{what} is over the {cap / MB:.1f} MB limit")
        chunks.append(chunk)
    return b"".join(chunks)


def load_crops(body: bytes, *, one: bool = False) -> np.ndarray:
    """A .npy body of uint8 crops (N×H×W×3; `one`: a single H×W×3 crop, or 1×H×W×3), never unpickled."""
    if not body:
        raise Problem(400, "the body is empty; send the crops as a .npy array (numpy.save)")
    try:
        array = np.load(io.BytesIO(body), allow_pickle=False)
    except Exception:  # noqa: BLE001 -- numpy raises several kinds for a body that is not a plain .npy
        raise Problem(400, "the body is not a .npy array of uint8 crops (numpy.save, no pickled objects)") from None
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8:
        kind = getattr(array, "dtype", type(array).__name__)
        raise Problem(400, f"the crops must be uint8 pixels, not {kind}")
    if one and array.ndim == 4 and len(array) == 1:
        array = array[0]
    wanted = 3 if one else 4
    if array.ndim != wanted or array.shape[-1] != 3:
        raise Problem(400, f"the crops must be {'H×W×3' if one else 'N×H×W×3'} RGB, not of shape {array.shape}")
    return array


def _top(query) -> int:
    return _integer(query, "top", 1, MAX_TOP, default=5)


def _integer(query, name: str, low: int, high: int, *, default: int | None = None) -> int:
    raw = query.get(name)
    if raw is None:
        if default is None:
            raise Problem(422, f"{name} is required: a whole number from {low} to {high}")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Problem(422, f"{name} must be a whole number from {low} to {high}, not {raw[:40]!r}") from None
    if not low <= value <= high:
        raise Problem(422, f"{name} must be from {low} to {high}, not {value}")
    return value


def _choice(query, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = query.get(name, default)
    if value not in allowed:
        raise Problem(422, f"{name} must be one of {', '.join(allowed)}, not {value[:40]!r}")
    return value


def _text(query, name: str) -> str:
    value = query.get(name, "").strip()
    if not value or len(value) > 200:
        raise Problem(422, f"{name} is required (a layer name)")
    return value
