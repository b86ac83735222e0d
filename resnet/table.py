"""The per-layer table of a model: shapes, parameters, MACs, receptive field and activation memory.

One row per layer, in the model's topological order. Every figure is computed from the layer's own configuration
and the shapes of the tensors around it, so the same code serves every architecture, the plain twins and the
networks without batch normalisation.

How the columns are counted:
- `params`: every weight of the layer; `trainable_params` + `non_trainable_params` (BN's moving mean and variance are
  the non-trainable ones). The column sums to `model.count_params()`.
- `macs`: multiply-accumulates for one image. Conv2D: H_out·W_out·k_h·k_w·C_in·C_out/groups; DepthwiseConv2D:
  H_out·W_out·k_h·k_w·C_in·depth_multiplier; Dense: in·out for each position it is applied to. Every other layer
  counts 0: batch norm, additions, ReLU and pooling are element-wise or comparisons rather than products of a
  weight with an input (and inference folds batch norm into the convolution before it). Biases are not counted.
- `receptive_field` / `jump`: the square window of input pixels one output element sees, and the distance in input
  pixels between neighbouring output elements, by the recurrence r_out = r_in + (k - 1)·j_in, j_out = j_in·s
  (k the dilated kernel size, s the stride), followed along the graph; where branches meet (Add, Concatenate) the
  largest window wins. Padding changes neither; it moves the window, which `field_start` follows: the input row (and
  column) where the window of the map's first element begins, start_out = start_in − p·j_in with p the padding
  before it (a ZeroPadding2D's, or what padding="same" adds on top: half the total, rounded down, as TensorFlow
  does); negative where the window reaches into the padding, and the earliest start wins where branches meet.
  Element i of a map sees input rows field_start + i·jump … field_start + i·jump + receptive_field − 1. A layer
  that gathers every position into one vector (global pooling, Flatten) sees the whole map it reads. Windows are
  not clipped to the image: ResNet-50's last block sees a 483-pixel window, larger than its 224-pixel input. A
  layer without a kernel that shrinks the map (such as a strided slice) counts as a 1×1 window with the stride its
  shapes imply.
- `activation_bytes`: the size of the layer's output for a batch of one, at the output's dtype (float32: 4 bytes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from resnet.architectures import ModelSpec, get
from resnet.lazy import OnFirstUse
from resnet.naming import locate, stage_name
from resnet.paths import table_cache

keras = OnFirstUse("keras")  # the table's arithmetic (totals, stages, comparisons) is read without TensorFlow

COLUMNS = (
    "name",
    "type",
    "stage",
    "block",
    "inputs",
    "output_shape",
    "params",
    "trainable_params",
    "non_trainable_params",
    "macs",
    "receptive_field",
    "jump",
    "field_start",
    "activation_bytes",
)

TOTALLED = ("params", "trainable_params", "non_trainable_params", "macs", "activation_bytes")

def inbound_layer_names(layer: keras.Layer) -> list[str]:
    """Names of the layers whose outputs feed `layer` (in a functional model), in argument order."""
    if isinstance(layer, keras.layers.InputLayer):
        return []
    # Keras 3 has no public accessor for a layer's producers; every KerasTensor records its own.
    return [tensor._keras_history.operation.name for tensor in keras.tree.flatten(layer.input)]


def _spatial(shape) -> tuple[int, int] | None:
    """(height, width) of a channels-last image tensor shape with batch axis, else None."""
    if len(shape) == 4 and shape[1] is not None and shape[2] is not None:
        return int(shape[1]), int(shape[2])
    return None


def _pairs(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def _window(layer: keras.Layer, input_shape, output_shape) -> tuple[int, int]:
    """(kernel size along the height axis after dilation, stride) of `layer` as seen by the recurrence."""
    if isinstance(layer, (keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D, keras.layers.Flatten)):
        spatial = _spatial(input_shape)
        return (spatial[0] if spatial else 1), 1
    kernel = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
    if kernel is not None and getattr(layer, "strides", None) is not None:
        dilation = _pairs(getattr(layer, "dilation_rate", 1))[0]
        return dilation * (_pairs(kernel)[0] - 1) + 1, _pairs(layer.strides)[0]
    before, after = _spatial(input_shape), _spatial(output_shape)
    if before and after and after[0] < before[0]:
        return 1, round(before[0] / after[0])
    return 1, 1


def _padding_before(layer: keras.Layer, input_shape, output_shape, kernel: int, stride: int) -> int:
    """Rows of padding above the input that `layer` reads (the recurrence assumes the same to the left)."""
    if isinstance(layer, keras.layers.ZeroPadding2D):
        return int(layer.padding[0][0])
    if getattr(layer, "padding", None) == "same":
        before, after = _spatial(input_shape), _spatial(output_shape)
        if before and after:
            return max((after[0] - 1) * stride + kernel - before[0], 0) // 2
    return 0


def _macs(layer: keras.Layer, input_shape, output_shape) -> int:
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        k_h, k_w = _pairs(layer.kernel_size)
        return math.prod(output_shape[1:3]) * k_h * k_w * input_shape[-1] * layer.depth_multiplier
    if isinstance(layer, keras.layers.Conv2D):
        k_h, k_w = _pairs(layer.kernel_size)
        return math.prod(output_shape[1:3]) * k_h * k_w * input_shape[-1] * output_shape[-1] // layer.groups
    if isinstance(layer, keras.layers.Dense):
        return math.prod(input_shape[1:-1]) * input_shape[-1] * output_shape[-1]
    return 0


def _count(weights) -> int:
    return int(sum(math.prod(weight.shape) for weight in weights))


def layer_table(model: keras.Model) -> pd.DataFrame:
    """One row per layer of a built functional `model`; the columns are described in the module's docstring."""
    rows = []
    field: dict[str, tuple[int, int, int]] = {}  # layer name -> (receptive field, jump, field start) of its output
    for layer in model.layers:
        inputs = inbound_layer_names(layer)
        output_shape = tuple(layer.output.shape)
        input_shape = tuple(keras.tree.flatten(layer.input)[0].shape) if inputs else output_shape
        if inputs:
            size_in = max(field[name][0] for name in inputs)
            jump_in = max(field[name][1] for name in inputs)
            start_in = min(field[name][2] for name in inputs)
            kernel, stride = _window(layer, input_shape, output_shape)
            padding = _padding_before(layer, input_shape, output_shape, kernel, stride)
            field[layer.name] = (size_in + (kernel - 1) * jump_in, jump_in * stride, start_in - padding * jump_in)
        else:
            field[layer.name] = (1, 1, 0)
        stage, block = locate(layer.name)
        trainable = _count(layer.trainable_weights)
        non_trainable = _count(layer.non_trainable_weights)
        rows.append(
            {
                "name": layer.name,
                "type": type(layer).__name__,
                "stage": stage,
                "block": block,
                "inputs": ", ".join(inputs),
                "output_shape": output_shape[1:],
                "params": trainable + non_trainable,
                "trainable_params": trainable,
                "non_trainable_params": non_trainable,
                "macs": _macs(layer, input_shape, output_shape),
                "receptive_field": field[layer.name][0],
                "jump": field[layer.name][1],
                "field_start": field[layer.name][2],
                "activation_bytes": math.prod(output_shape[1:]) * np.dtype(layer.output.dtype).itemsize,
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


# Bump when a column or how it is counted changes, so old entries of the disk cache are not read for new code.
TABLE_VERSION = 1
KEPT_TABLES = 512  # files in the disk cache (a few to 200 KB each), the most recently written


def cache_path(spec: ModelSpec) -> Path:
    """Where the table of `spec` is kept on disk: named by the spec, the table's version and Keras' (read from the
    installed package's metadata, so a page without Keras finds the entries a server with it wrote)."""
    arch = get(spec.arch)
    # The network's own size spelled out or left to its default is one network, and one entry.
    spec = dataclasses.replace(spec, input_size=spec.input_size or arch.input_shape[0],
                               classes=spec.classes or arch.classes)
    key = json.dumps([TABLE_VERSION, importlib.metadata.version("keras"), dataclasses.asdict(spec)], sort_keys=True)
    return table_cache() / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def cached_layer_table(spec: ModelSpec, build: Callable[[ModelSpec], keras.Model] | None = None) -> pd.DataFrame:
    """`layer_table` of the network `spec` describes, from the disk cache when it holds it; else built (by `build`,
    default `spec.build`), counted and written there. JSON, not a pickle: a cache file is read as data, never run."""
    stored = stored_layer_table(spec)
    if stored is not None:
        return stored
    path = cache_path(spec)
    rows = layer_table((build or type(spec).build)(spec))
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write-then-rename: two servers counting the same network never leave half a file behind.
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".part", delete=False) as part:
        json.dump({"columns": list(rows.columns), "rows": rows.to_numpy().tolist()}, part,
                  default=lambda value: value.item() if hasattr(value, "item") else list(value))
    os.replace(part.name, path)
    kept = sorted(path.parent.glob("*.json"), key=lambda entry: entry.stat().st_mtime, reverse=True)
    for old in kept[KEPT_TABLES:]:
        old.unlink(missing_ok=True)
    return rows


def stored_layer_table(spec: ModelSpec) -> pd.DataFrame | None:
    """The table of `spec` from the disk cache, or None when no server has counted it yet."""
    path = cache_path(spec)
    try:
        stored = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    rows = pd.DataFrame(stored["rows"], columns=stored["columns"])
    rows["output_shape"] = rows.output_shape.map(tuple)
    return rows


def totals(table: pd.DataFrame) -> dict[str, int]:
    """Sums of the countable columns over the whole table, plus the number of layers."""
    summed = {column: int(table[column].sum()) for column in TOTALLED}
    return {"layers": len(table), **summed}


def stage_totals(table: pd.DataFrame) -> pd.DataFrame:
    """One row per stage: its name, layer and block counts, the summed columns, and its last layer's output shape,
    receptive field and jump (what the stage hands on to the next)."""
    grouped = table.groupby("stage", sort=True)
    result = grouped[list(TOTALLED)].sum()
    result.insert(0, "blocks", grouped["block"].nunique())
    result.insert(0, "layers", grouped.size())
    result.insert(0, "stage_name", [stage_name(stage) for stage in result.index])
    last = grouped.tail(1).set_index("stage")
    for column in ("output_shape", "receptive_field", "jump"):
        result[column] = last[column]
    return result


def block_totals(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (stage, block), with the same columns as `stage_totals` except the block count."""
    grouped = table.groupby(["stage", "block"], sort=True)
    result = grouped[list(TOTALLED)].sum()
    result.insert(0, "layers", grouped.size())
    last = grouped.tail(1).set_index(["stage", "block"])
    for column in ("output_shape", "receptive_field", "jump"):
        result[column] = last[column]
    return result


# The rows of `comparison`, in the order of `totals`, named as a reader says them.
TOTAL_NAMES = {"layers": "layers", "params": "parameters", "trainable_params": "trainable",
               "non_trainable_params": "non-trainable", "macs": "MACs per image",
               "activation_bytes": "activation bytes per image"}


def comparison(first: pd.DataFrame, second: pd.DataFrame, labels: tuple[str, str]) -> pd.DataFrame:
    """The `totals` of two tables side by side, in columns named `labels`, one row per total (named as in
    TOTAL_NAMES), and a `difference` column: second minus first."""
    if labels[0] == labels[1]:
        raise ValueError(f"two tables side by side need two labels, not {labels[0]!r} twice")
    compared = pd.DataFrame({labels[0]: totals(first), labels[1]: totals(second)})
    compared["difference"] = compared[labels[1]] - compared[labels[0]]
    return compared.rename(index=TOTAL_NAMES)


def residual_stages(table: pd.DataFrame) -> list[int]:
    """The stages made of residual blocks (every stage but the stem and the head), in order. Read from the block
    column, so a plain twin's stages count too: they have the same blocks, without the shortcuts."""
    return sorted(int(stage) for stage in set(table.stage[table.block > 0]))


def stage_sizes(table: pd.DataFrame) -> dict[int, str]:
    """Each stage's size in words, as the diagrams and the pages title it: `4 blocks · 43 layers` for a residual
    stage, `7 layers` for the stem or the head."""
    residual = set(residual_stages(table))
    return {int(stage): (f"{row.blocks} blocks · " if stage in residual else "") + f"{row.layers} layers"
            for stage, row in stage_totals(table).iterrows()}


def matching_layers(table: pd.DataFrame, text: str) -> pd.DataFrame:
    """The rows whose layer name or type contains `text`, in any case (all of them for a blank `text`)."""
    needle = text.strip().lower()
    return table[table.name.str.lower().str.contains(needle, regex=False)
                 | table.type.str.lower().str.contains(needle, regex=False)]


def human(count: float) -> str:
    """A count as people read it: 118013952 → `118 M`, 3857973248 → `3.86 G`, 9472 → `9.47 k`."""
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(count) >= factor:
            return f"{count / factor:.3g} {suffix}"
    return f"{int(count)}"


def params_and_macs(row) -> str:
    """A layer's, block's or stage's cost as the diagrams and the pages print it: `1.22 M params · 103 M MACs`."""
    return f"{human(row.params)} params · {human(row.macs)} MACs"
