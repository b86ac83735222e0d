"""Forward-pass engines: one model, several ways to run it, all giving the same probabilities.

- `tf`: the Keras model under one `tf.function` with a fixed input signature (batch dimension free), so a call
  never re-traces and skips `model.predict`'s per-call set-up. Ready at once: nothing to convert.
- `tf-folded`: the same on a twin whose BatchNormalization layers are folded into the convolutions before them
  (inference only: the moving statistics are constants). Folding a ResNet-50 takes about a second.
- `openvino`: OpenVINO's CPU runtime, converted in this process straight from the network's own `tf.function`
  (OpenVINO folds each BatchNorm into its convolution itself: converting a folded twin instead gave the same speed,
  18.1 against 18.2 ms, and held a second Keras copy of the weights while it was made); ~2 s and no extra process
  (the tf2onnx export it replaced took 48 s and 7.4 GB). The fastest on a CPU here; the only one that runs bf16 on
  CPUs with bf16 instructions.

Precision: fp32 everywhere by default (what keras.applications computes); bf16 where the hardware has it
(`resnet.devices.bf16_unavailable`): OpenVINO on such a CPU, a mixed_bfloat16 twin in TensorFlow on a GPU.

Every engine answers with the probabilities and, where the network ends in global average pooling and a dense
layer, the last feature map, from which the top classes' heat maps come without a gradient (`resnet.explaining`).
TensorFlow stays the reference (tests check each engine against it) and the engine for gradients (Grad-CAM at other
layers).
"""

from __future__ import annotations

import os
import queue
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from resnet import devices
from resnet.devices import PRECISIONS
from resnet.precisions import default_precision  # noqa: F401 -- where callers have always found it
from resnet.errors import UserError
from resnet.explaining import cam_head
from resnet.openvino_options import HINTS, check_hint, compile_config, output_places  # noqa: F401 -- HINTS: here too

_INPUT_NAME = "input"


@dataclass(frozen=True)
class EngineKind:
    """One way to run the forward pass, as the Classifier, the CLI's choice and `bench` all see it.

    `setup_s` and `per_photo_s` are what it cost a ResNet-50 on a 2-core AVX2 CPU (`python -m resnet bench`, section
    "choice", measures them again on any machine): seconds before its first answer (folding, tracing, converting,
    the first call) and seconds per photo after that.
    """

    name: str
    what: str  # one line, for --help
    device: str  # where it computes
    bf16: str  # where it computes bf16 fast
    emulates_bf16: bool  # whether it computes bf16 where the hardware lacks it (slowly) when named outright
    setup_s: float
    per_photo_s: float
    converts: bool  # needs a conversion first: the app answers with "tf" meanwhile and converts in the background


_TENSORFLOW_DEVICE, _TENSORFLOW_BF16 = "the GPU TensorFlow found, else the CPU", "a GPU of compute capability 8.0+"
KINDS = {kind.name: kind for kind in (
    EngineKind("tf", "the Keras model under one tf.function, ready at once", device=_TENSORFLOW_DEVICE,
               bf16=_TENSORFLOW_BF16, emulates_bf16=True, setup_s=1.4, per_photo_s=0.090, converts=False),
    EngineKind("tf-folded", "the same with BatchNorm folded into the convolutions (about a second)",
               device=_TENSORFLOW_DEVICE, bf16=_TENSORFLOW_BF16, emulates_bf16=True, setup_s=2.0, per_photo_s=0.074,
               converts=False),
    EngineKind("openvino", "OpenVINO's CPU runtime, converted in-process (about 2 s)",
               device="the CPU", bf16="a CPU with avx512_bf16 or AMX", emulates_bf16=False, setup_s=2.9,
               per_photo_s=0.054, converts=True),
)}
ENGINES = ("auto", *KINDS)


def openvino_available() -> bool:
    try:
        devices.import_openvino()
    except ImportError:  # optional: its absence only removes the engine
        return False
    return True


def runnable_here() -> list[str]:
    """The engines of KINDS this installation can run (OpenVINO is optional)."""
    return [name for name in KINDS if name != "openvino" or openvino_available()]


def default_engine() -> str:
    """The engine asked for by RESNET_ENGINE (e.g. "tf" to never convert anything), else "auto"."""
    value = os.environ.get("RESNET_ENGINE") or "auto"
    if value not in ENGINES:
        raise UserError(f"RESNET_ENGINE is {value!r}; use one of {', '.join(ENGINES)}")
    return value


def resolve_engine(engine: str, *, gpu: bool | None = None, openvino: bool | None = None) -> str:
    """"auto" → OpenVINO on a CPU where it is installed, TensorFlow with BatchNorm folded on a GPU (OpenVINO's CPU
    runtime would leave the GPU idle) or without OpenVINO."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    if engine != "auto":
        return engine
    gpu = devices.has_gpu() if gpu is None else gpu
    openvino = openvino_available() if openvino is None else openvino
    return "openvino" if openvino and not gpu else "tf-folded"


def engine_for_photos(photos: int, *, gpu: bool | None = None, openvino: bool | None = None) -> str:
    """The engine that answers `photos` photos soonest, set-up included (see KINDS): what "auto" means in the CLI."""
    best = resolve_engine("auto", gpu=gpu, openvino=openvino)
    candidates = [kind for kind in KINDS.values() if not kind.converts or kind.name == best]
    return min(candidates, key=lambda kind: kind.setup_s + photos * kind.per_photo_s).name


def check_precision(precision: str, engine: str) -> None:
    """Refuse bf16 where it would not be fast, unless an engine that emulates it (TensorFlow) is named outright."""
    if precision not in PRECISIONS:
        raise UserError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "bf16" and (engine == "auto" or not KINDS[engine].emulates_bf16):
        reason = devices.bf16_unavailable()
        if reason:
            raise UserError(f"bf16 is not offered here: {reason}; use fp32 (or --engine tf-folded to emulate bf16, "
                            "slowly)")


# How OpenVINO scales uint8 pixels inside its graph, per `images.PREPROCESSING_MODES`: (flip RGB→BGR?, mean, scale),
# applied as (x − mean) / scale. The same arithmetic as keras.applications' preprocess_input and the lab's input.
PIXEL_STEPS = {
    "caffe": (True, (103.939, 116.779, 123.68), 1.0),  # BGR means after the flip
    "tf": (False, 127.5, 127.5),
    "lab": (False, 127.5, 63.75),  # (x / 255 − 0.5) / 0.25
}


class TensorFlowEngine:
    """A Keras model behind one traced `tf.function`: batch in, probabilities out, and with them the last feature
    map where the network's heat maps come from it (`explaining.cam_head`): one call answers and explains."""

    takes_pixels = False  # it takes preprocessed float32 batches
    parallel = 1  # calls it computes side by side to advantage: one, which spreads over every core

    def __init__(self, model: keras.Model, name: str = "tf", precision: str = "fp32", *, features: bool = True):
        """`features=False`: the probabilities alone (a caller that shows no heat map, and bench's baseline)."""
        self.name = name
        self.precision = precision
        self.model = bf16_twin(model) if precision == "bf16" else model
        head = cam_head(model) if features else None
        self.feature_layer = head.layer if head else None
        outputs = [self.model.output] + ([self.model.get_layer(self.feature_layer).output] if head else [])
        both = keras.Model(self.model.inputs[0], outputs)
        signature = [tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name=_INPUT_NAME)]
        # flatten: a model of one output returns a tensor, not a list of one
        self._forward = tf.function(
            lambda x: tuple(tf.cast(y, tf.float32) for y in tf.nest.flatten(both(x, training=False))),
            input_signature=signature)

    @property
    def device(self) -> str:
        return devices.device_name()

    def concrete_function(self):
        """The traced graph (traced now if it was not yet): what OpenVINO converts."""
        return self._forward.get_concrete_function()

    def answer(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(probabilities, the feature map of `feature_layer` or None) for a preprocessed batch."""
        outputs = [y.numpy() for y in self._forward(tf.convert_to_tensor(batch, tf.float32))]
        return outputs[0], (outputs[1] if len(outputs) > 1 else None)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.answer(batch)[0]

    def warm(self, batch: np.ndarray) -> None:
        """Trace the forward pass now, not at a visitor's first call."""
        self.answer(batch)


class OpenVinoEngine:
    """OpenVINO's CPU runtime on the graph of a TensorFlowEngine, converted in this process; it answers with the
    same outputs as its source."""

    def __init__(self, source: TensorFlowEngine, precision: str = "fp32", *, pixels: str | None = None,
                 hint: str = "latency"):
        """`pixels`: a preprocessing mode (PIXEL_STEPS): the engine then takes uint8 crops and scales them in its
        own graph (the answering path's 0.1–0.2 ms of numpy, and a float32 copy four times the size, gone).

        `hint` (HINTS): "latency", every core on each call, the soonest single answer (the CLI, bench); or
        "throughput", OpenVINO's streams, each call on cores of its own and `parallel` calls side by side: what a
        server of many sessions wants (see HINTS)."""
        check_hint(hint)
        openvino = devices.import_openvino()
        self.name = "openvino"
        self.precision = precision
        self.feature_layer = source.feature_layer
        self.takes_pixels = pixels is not None
        # share_weights=False: by default the converted model points into the TensorFlow variables' memory, which
        # is freed with the source (a folded twin was, once converted, and its reused memory gave wrong answers).
        converted = openvino.convert_model(source.concrete_function(), share_weights=False)
        if pixels is not None:
            converted = with_pixel_steps(converted, pixels)
        self._compiled = openvino.Core().compile_model(converted, "CPU", compile_config(precision, hint))
        self.hint = hint
        self.parallel = int(self._compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self._probabilities, self._features = output_places(self._compiled)
        # CompiledModel.__call__ reuses one infer request, so threads calling at once would overwrite each other's
        # input and output. Each call borrows an idle request instead; there are never more than callers at once.
        self._idle_requests: queue.SimpleQueue = queue.SimpleQueue()

    @property
    def device(self) -> str:
        return devices.cpu_name()  # OpenVINO's CPU plugin, whatever else the machine has

    def answer(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        try:
            request = self._idle_requests.get_nowait()
        except queue.Empty:
            request = self._compiled.create_infer_request()
        try:
            # The input is read in place (share_inputs: ours, and the call is synchronous); the outputs are copied
            # out of the request, which the next caller reuses.
            outputs = request.infer(self._input(batch), share_inputs=True)
        finally:
            self._idle_requests.put(request)
        return outputs[self._probabilities], (None if self._features is None else outputs[self._features])

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.answer(batch)[0]

    def warm(self, batch: np.ndarray) -> None:
        """Run each of its `parallel` requests once, so that no visitor's call is a request's first (OpenVINO
        allocates a request's memory and plans it then)."""
        requests = [self._compiled.create_infer_request() for _ in range(self.parallel)]
        for request in requests:
            request.infer(self._input(batch))
            self._idle_requests.put(request)

    def _input(self, batch: np.ndarray) -> np.ndarray:
        """The batch as the compiled graph takes it: uint8 pixels or preprocessed float32, contiguous."""
        return np.ascontiguousarray(batch, dtype=np.uint8 if self.takes_pixels else np.float32)


def make_engine(model: keras.Model, engine: str | None = None, precision: str | None = None, *,
                source: TensorFlowEngine | None = None, features: bool = True, pixels: str | None = None,
                hint: str = "latency"):
    """The engine named (None: RESNET_ENGINE, else "auto") at `precision` (None: RESNET_PRECISION, else fp32) for
    `model`, which stays untouched. `source`: a fp32 TensorFlowEngine of `model` already traced (the app's first
    engine), which OpenVINO converts instead of tracing another (its outputs are the converted engine's).
    `features`: whether it answers with the last feature map too. `pixels`: the model's preprocessing mode, for an
    engine that may take uint8 crops and scale them itself (OpenVINO does; check the engine's `takes_pixels`).
    `hint`: OpenVINO's performance hint (HINTS); TensorFlow has none."""
    engine = engine or default_engine()
    precision = precision or default_precision()
    check_precision(precision, engine)
    chosen = resolve_engine(engine)
    if chosen == "tf":
        return TensorFlowEngine(model, "tf", precision, features=features)
    if chosen == "tf-folded" or (precision == "bf16" and devices.has_gpu()):
        return TensorFlowEngine(fold_batch_norm(model), "tf-folded", precision, features=features)
    return OpenVinoEngine(source or TensorFlowEngine(model, "tf", features=features), precision, pixels=pixels,
                          hint=hint)


def with_pixel_steps(converted, pixels: str):
    """The converted model taking NHWC uint8 and scaling it first, as PIXEL_STEPS[pixels] says (the app's answering
    engine, and the network tier's saved IR: resnet.serving.export)."""
    from openvino import Layout, Type
    from openvino.preprocess import PrePostProcessor

    flip, mean, scale = PIXEL_STEPS[pixels]
    steps = PrePostProcessor(converted)
    steps.input().tensor().set_element_type(Type.u8).set_layout(Layout("NHWC"))
    steps.input().model().set_layout(Layout("NHWC"))
    preprocess = steps.input().preprocess().convert_element_type(Type.f32)
    if flip:
        preprocess = preprocess.reverse_channels()
    preprocess.mean(list(mean) if isinstance(mean, tuple) else mean).scale(scale)
    return steps.build()


def bf16_twin(model: keras.Model) -> keras.Model:
    """`model` computing in bfloat16 (Keras' mixed_bfloat16 policy: bf16 arithmetic, fp32 weights kept), with the
    same weights; the final softmax stays fp32 so that small probabilities are not rounded away."""
    last = model.layers[-1].name

    def clone(layer):
        config = layer.get_config()
        if not isinstance(layer, keras.layers.InputLayer):
            config["dtype"] = "float32" if layer.name == last else "mixed_bfloat16"
        return layer.__class__.from_config(config)

    twin = keras.models.clone_model(model, clone_function=clone)
    twin.set_weights(model.get_weights())
    return twin


# --- BatchNorm folding ---------------------------------------------------------------------------------------------


def foldable_pairs(model: keras.Model) -> dict[str, str]:
    """{BatchNormalization name: Conv2D name} for every BN that reads a Conv2D output nothing else reads.

    Pre-activation (V2) BNs read an addition, not a conv; they stay as they are.
    """
    pairs = {}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization) or len(layer._inbound_nodes) != 1:
            continue
        if layer.axis not in (-1, 3, [3], [-1]):
            continue
        parents = layer._inbound_nodes[0].parent_nodes
        if len(parents) != 1:
            continue
        conv = parents[0].operation
        if type(conv) is keras.layers.Conv2D and len(conv._outbound_nodes) == 1 and len(conv._inbound_nodes) == 1:
            pairs[layer.name] = conv.name
    return pairs


def fold_batch_norm(model: keras.Model) -> keras.Model:
    """An inference twin of `model` with each foldable BatchNorm merged into the conv before it.

    conv → BN computes γ·(W*x + b − μ)/√(σ² + ε) + β, which is one conv with kernel W·s and bias (b − μ)·s + β,
    s = γ/√(σ² + ε). The folded BN becomes a pass-through layer of the same name, so layer names still match.
    """
    pairs = foldable_pairs(model)
    convs = set(pairs.values())

    def clone(layer):
        if layer.name in pairs:
            return FoldedBatchNorm(name=layer.name)
        config = layer.get_config()
        if layer.name in convs:
            config["use_bias"] = True
        return layer.__class__.from_config(config)

    twin = keras.models.clone_model(model, clone_function=clone)
    conv_to_bn = {conv: bn for bn, conv in pairs.items()}
    for layer in model.layers:
        if layer.name in pairs:
            continue
        target = twin.get_layer(layer.name)
        if layer.name in conv_to_bn:
            target.set_weights(_folded_conv_weights(layer, model.get_layer(conv_to_bn[layer.name])))
        else:
            target.set_weights(layer.get_weights())
    return twin


class FoldedBatchNorm(keras.layers.Layer):
    """What is left of a BatchNormalization once it is folded into its conv: nothing (it passes its input on).

    Unlike keras' Identity it accepts the BN's call arguments, which the cloned graph replays.
    """

    def call(self, inputs, mask=None, training=None):
        return inputs


def _folded_conv_weights(conv, bn) -> list[np.ndarray]:
    # float64 for the arithmetic: the folded model should differ from the original by rounding, not by folding.
    kernel = np.asarray(conv.kernel, dtype=np.float64)
    bias = np.asarray(conv.bias, dtype=np.float64) if conv.use_bias else np.zeros(kernel.shape[-1])
    mean = np.asarray(bn.moving_mean, dtype=np.float64)
    var = np.asarray(bn.moving_variance, dtype=np.float64)
    gamma = np.asarray(bn.gamma, dtype=np.float64) if bn.scale else np.ones_like(mean)
    beta = np.asarray(bn.beta, dtype=np.float64) if bn.center else np.zeros_like(mean)
    scale = gamma / np.sqrt(var + bn.epsilon)
    return [(kernel * scale).astype(np.float32), ((bias - mean) * scale + beta).astype(np.float32)]
