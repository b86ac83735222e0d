"""Forward-pass engines: one model, three ways to run it fast, all giving the same probabilities.

- `tf`: the Keras model itself under one `tf.function` with a fixed input signature (batch dimension free), so a
  call never re-traces and skips `model.predict`'s per-call set-up (tens of milliseconds at batch 1).
- `tf-folded`: the same, on a twin of the model whose BatchNormalization layers are folded into the kernels and
  biases of the convolutions before them (inference only: the moving statistics are constants).
- `onnx`: ONNX Runtime on the folded twin, exported once with tf2onnx and cached on disk under a hash of the
  weights; the fastest on CPU here. Optional: absent onnxruntime/tf2onnx only removes it from "auto".

TensorFlow stays the reference (tests check each engine against it) and the engine for gradients (Grad-CAM).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

ENGINES = ("auto", "tf", "tf-folded", "onnx")
ONNX_OPSET = 17
KEEP_EXPORTS = 3  # exported files kept per network name: a few weight sets (trained, random, fine-tuned), not all
_INPUT_NAME = "input"


def has_gpu() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))


def device_name() -> str:
    """The GPU TensorFlow runs on, by name, or "CPU (<model name>)"."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return details.get("device_name", gpus[0].name)
    return cpu_name()


def cpu_name() -> str:
    model = _cpu_model()
    return f"CPU ({model})" if model else "CPU"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return ""


def onnx_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
        import tf2onnx  # noqa: F401
    except ImportError:
        return False
    return True


def default_engine() -> str:
    """The engine asked for by RESNET_ENGINE (e.g. "tf" to skip the ONNX export), else "auto"."""
    from resnet.errors import UserError

    value = os.environ.get("RESNET_ENGINE") or "auto"
    if value not in ENGINES:
        raise UserError(f"RESNET_ENGINE is {value!r}; use one of {', '.join(ENGINES)}")
    return value


def resolve_engine(engine: str) -> str:
    """"auto" → ONNX Runtime on CPU when installed, TensorFlow (folded) on a GPU."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    if engine != "auto":
        return engine
    if has_gpu() or not onnx_available():
        return "tf-folded"
    return "onnx"


class TensorFlowEngine:
    """A Keras model behind one traced `tf.function`: batch in, probabilities out."""

    def __init__(self, model: keras.Model, name: str = "tf"):
        self.name = name
        self.model = model
        signature = [tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name=_INPUT_NAME)]
        self._forward = tf.function(lambda x: model(x, training=False), input_signature=signature)

    @property
    def device(self) -> str:
        return device_name()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self._forward(tf.convert_to_tensor(batch, tf.float32)).numpy()


class OnnxEngine:
    """ONNX Runtime on CPU, from a model exported with tf2onnx (cached on disk by weight hash)."""

    def __init__(self, model: keras.Model, cache_dir: str | os.PathLike | None = None, *, threads: int = 0):
        """`threads`: ONNX Runtime's intra-op threads; 0 = one per physical core (best on an otherwise idle CPU,
        while one thread holds up better when other processes keep the cores busy)."""
        import onnxruntime as ort

        self.name = "onnx" if threads == 0 else f"onnx ({threads} thread{'s' if threads > 1 else ''})"
        self.path = export_onnx(model, cache_dir)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(os.fspath(self.path), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    @property
    def device(self) -> str:
        return cpu_name()  # the CPU execution provider, whatever else the machine has

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input: np.ascontiguousarray(batch, dtype=np.float32)})[0]


def make_engine(model: keras.Model, engine: str | None = None, *, cache_dir=None):
    """The engine named (None: RESNET_ENGINE or "auto"; "auto" resolved) for `model`, which stays untouched."""
    engine = engine or default_engine()
    chosen = resolve_engine(engine)
    if chosen == "tf":
        return TensorFlowEngine(model, "tf")
    if chosen == "tf-folded":
        return TensorFlowEngine(fold_batch_norm(model), "tf-folded")
    try:
        return OnnxEngine(model, cache_dir)
    except Exception as exc:  # noqa: BLE001 -- "auto" means the best engine that works; TF always does
        if engine != "auto":
            raise
        warnings.warn(f"ONNX Runtime unavailable for {model.name} ({exc}); using TensorFlow with BatchNorm folded",
                      RuntimeWarning, stacklevel=2)
        return TensorFlowEngine(fold_batch_norm(model), "tf-folded")


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


# --- ONNX export ---------------------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    base = os.environ.get("RESNET_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.join(Path.home(), ".cache")), "resnet-explorer")
    return Path(base) / "onnx"


def weights_digest(model: keras.Model) -> str:
    """A hash of the architecture (layer names, shapes) and every weight's bytes: the ONNX cache key."""
    digest = hashlib.sha256()
    import tf2onnx

    digest.update(f"{tf2onnx.__version__} opset {ONNX_OPSET} {model.input_shape}".encode())
    for weight in model.weights:
        value = np.asarray(weight)
        digest.update(f"{weight.path} {value.shape} {value.dtype}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()


def export_onnx(model: keras.Model, cache_dir=None, *, isolated: bool = True) -> Path:
    """The ONNX file of `model` with BatchNorm folded, exported on first use and reused while the weights match.

    `isolated`: export in a child process. tf2onnx needs several GB for a ResNet-50 (~7 GB peak here, against ~1 GB
    for the whole serving process), and a child gives all of it back when it exits.
    """
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = folder / f"{model.name}-{weights_digest(model)[:20]}.onnx"
    if path.is_file():
        path.touch()  # recently used: pruning keeps it
        return path
    folder.mkdir(parents=True, exist_ok=True)
    # Written next to its final name and renamed: a second server starting at the same time never reads half a file.
    handle, partial = tempfile.mkstemp(dir=folder, suffix=".onnx.part")
    os.close(handle)
    try:
        if isolated:
            _export_in_child(model, partial)
        else:
            _export(model, partial)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    prune_exports(folder, model.name)
    return path


def prune_exports(folder: Path, model_name: str, keep: int = KEEP_EXPORTS) -> list[Path]:
    """Delete all but the `keep` most recently used exports of `model_name` in `folder`, and any half-written export
    a day old; returns what went.

    Each is ~100 MB for a ResNet-50 and a new one is written whenever the weights change.
    """
    pattern = re.compile(re.escape(model_name) + r"-[0-9a-f]{20}\.onnx")
    exports = sorted((path for path in Path(folder).iterdir() if pattern.fullmatch(path.name)),
                     key=lambda path: path.stat().st_mtime, reverse=True)
    # Half-written files of exports that were killed (an export takes a minute; a day-old one is not running).
    day_ago = time.time() - 86400
    abandoned = [path for path in Path(folder).glob("*.onnx.part") if path.stat().st_mtime < day_ago]
    removed = []
    for path in exports[keep:] + abandoned:
        with contextlib.suppress(FileNotFoundError):  # another server pruning at the same time
            path.unlink()
            removed.append(path)
    return removed


def _export(model: keras.Model, output_path) -> None:
    import tf2onnx

    folded = fold_batch_norm(model)
    signature = [tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name=_INPUT_NAME)]
    forward = tf.function(lambda x: folded(x, training=False), input_signature=signature)
    tf2onnx.convert.from_function(forward, input_signature=signature, opset=ONNX_OPSET,
                                  output_path=os.fspath(output_path))


def _export_in_child(model: keras.Model, output_path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "model.keras"
        model.save(source)
        package_root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
                   PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
        done = subprocess.run([sys.executable, "-m", "resnet.engines", os.fspath(source), os.fspath(output_path)],
                              env=env, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise RuntimeError(f"ONNX export of {model.name} failed: {last}")


if __name__ == "__main__":  # the child of _export_in_child: python -m resnet.engines MODEL.keras OUT.onnx
    _export(keras.models.load_model(sys.argv[1], compile=False), sys.argv[2])
