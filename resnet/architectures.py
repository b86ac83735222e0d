"""One table of architectures, and the one builder it drives.

Every network the explorer knows is a row of `ARCHITECTURES`: stem, block kind, blocks and widths per stage, where
the stride sits, how convolutions are made, the head and the naming scheme. `build()` turns a row into a Keras
model with keras.applications' arguments (`include_top`, `weights`, `input_tensor`, `input_shape`, `pooling`,
`classes`, `classifier_activation`) plus the explorer's own switches (`plain`, `batch_norm`,
`kernel_initializer`, `seed`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace

import keras
from keras import layers

from resnet.blocks import BlockNames, ConvStyle, basic_block, bottleneck_block, preact_bottleneck_block
from resnet.errors import UnknownArchitecture, UserError


@dataclass(frozen=True)
class Architecture:
    name: str
    title: str
    block: str  # "bottleneck" | "preact_bottleneck" | "basic"
    depths: tuple  # blocks per residual stage
    widths: tuple  # bottleneck (or basic-block) width per stage
    strides: tuple  # stride of each stage
    stem: str = "imagenet"  # "imagenet" | "preact" | "course" | "cifar"
    stride_on: str = "1x1"  # which conv of a down-sampling bottleneck strides
    stride_in: str = "first"  # the block of a stage that strides: "first" (v1) or "last" (keras' V2)
    shortcut: str = "projection"  # how a changed shape is matched: "projection" (B) or "zeros" (A)
    style: ConvStyle = ConvStyle()
    head: str = "gap"  # "gap" (global average pool) | "avgpool_flatten" (the course's)
    names: str = "keras"  # "keras" | "course"
    input_shape: tuple = (224, 224, 3)
    classes: int = 1000
    stem_width: int = 64
    imagenet_weights: str | None = None  # the keras.applications file stem, where official weights exist
    source: str = ""

    @property
    def preprocessing(self) -> str:
        """The `preprocess_input` convention of the network's weights: caffe (BGR, mean) or tf (±1)."""
        return "tf" if self.block == "preact_bottleneck" else "caffe"

    @property
    def depth(self) -> int:
        """Weighted layers on the main path: the number in the network's name."""
        per_block = 2 if self.block == "basic" else 3
        return per_block * sum(self.depths) + 2


_V1 = dict(block="bottleneck", widths=(64, 128, 256, 512), strides=(1, 2, 2, 2))
_V2 = dict(block="preact_bottleneck", stem="preact", widths=(64, 128, 256, 512), strides=(2, 2, 2, 1),
           stride_in="last")
_SMALL = dict(block="basic", widths=(64, 128, 256, 512), strides=(1, 2, 2, 2),
              style=ConvStyle(use_bias=False, kernel_initializer="he_normal"))
_CIFAR = dict(block="basic", stem="cifar", stem_width=16, widths=(16, 32, 64), strides=(1, 2, 2), shortcut="zeros",
              style=ConvStyle(use_bias=False, kernel_initializer="he_normal"), input_shape=(32, 32, 3), classes=10)

_ROWS = [
    Architecture("resnet18", "ResNet-18", depths=(2, 2, 2, 2), source="He et al. 2016, Table 1", **_SMALL),
    Architecture("resnet34", "ResNet-34", depths=(3, 4, 6, 3), source="He et al. 2016, Table 1", **_SMALL),
    Architecture("resnet50", "ResNet-50", depths=(3, 4, 6, 3), imagenet_weights="resnet50",
                 source="keras.applications.ResNet50", **_V1),
    Architecture("resnet101", "ResNet-101", depths=(3, 4, 23, 3), imagenet_weights="resnet101",
                 source="keras.applications.ResNet101", **_V1),
    Architecture("resnet152", "ResNet-152", depths=(3, 8, 36, 3), imagenet_weights="resnet152",
                 source="keras.applications.ResNet152", **_V1),
    Architecture("resnet50v2", "ResNet-50 V2", depths=(3, 4, 6, 3), imagenet_weights="resnet50v2",
                 source="keras.applications.ResNet50V2", **_V2),
    Architecture("resnet101v2", "ResNet-101 V2", depths=(3, 4, 23, 3), imagenet_weights="resnet101v2",
                 source="keras.applications.ResNet101V2", **_V2),
    Architecture("resnet152v2", "ResNet-152 V2", depths=(3, 8, 36, 3), imagenet_weights="resnet152v2",
                 source="keras.applications.ResNet152V2", **_V2),
    Architecture("resnet50_garden", "ResNet-50 (Model Garden v1.5)", depths=(3, 4, 6, 3), stride_on="3x3",
                 style=ConvStyle(use_bias=False, kernel_initializer="he_normal", weight_decay=1e-4,
                                 bn_epsilon=1e-5, bn_momentum=0.9),
                 source="TensorFlow Model Garden's ResNet-50 (Keras functional API)", **{**_V1}),
    # The course's net (seeds 001/004): Keras' default BatchNorm constants, no padding before the max-pool, and
    # AvgPool(2) → Flatten instead of a global pool. Stage 2 does not stride, as in the original assignment.
    Architecture("resnet50_course", "ResNet-50 (course, 64×64, 6 classes)", depths=(3, 4, 6, 3), stem="course",
                 style=ConvStyle(bn_epsilon=1e-3), head="avgpool_flatten", names="course", input_shape=(64, 64, 3),
                 classes=6, source="deeplearning.ai's “Residual Networks” assignment; M. Peixeiro, “Hitchhiker's Guide "
                        "to Residual Networks (ResNet) in Keras”", **_V1),
    *[Architecture(f"resnet{6 * n + 2}", f"ResNet-{6 * n + 2} (CIFAR)", depths=(n, n, n),
                   source="He et al. 2016, §4.2", **_CIFAR) for n in (3, 5, 7, 9, 18)],
]

ARCHITECTURES: dict[str, Architecture] = {row.name: row for row in _ROWS}
WITH_WEIGHTS = tuple(name for name, arch in ARCHITECTURES.items() if arch.imagenet_weights)  # ImageNet-trained


def get(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise UnknownArchitecture(
            f"unknown architecture {name!r}; choose one of: {', '.join(ARCHITECTURES)}") from None


# --- the network, stem → stages → head ----------------------------------------------------------------------------

def stem(x, arch: Architecture, style: ConvStyle):
    """The layers before the first residual stage."""
    if arch.stem == "cifar":
        names = _StemNames(arch.names)
        x = style.conv(arch.stem_width, 3, padding="same", name=names("conv"))(x)
        if style.batch_norm:
            x = style.bn(names("bn"))(x)
        return layers.Activation("relu", name=names("relu"))(x)
    names = _StemNames(arch.names)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name=names("pad"))(x)
    x = style.conv(arch.stem_width, 7, strides=2, name=names("conv"),
                   use_bias=True if arch.stem == "preact" else None)(x)
    if arch.stem != "preact":  # V2 normalises at the start of each block instead
        if style.batch_norm:
            x = style.bn(names("bn"))(x)
        x = layers.Activation("relu", name=names("relu"))(x)
    if arch.stem != "course":
        x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool" if arch.names == "keras" else "pool1")(x)


class _StemNames:
    def __init__(self, scheme):
        self.scheme = scheme

    def __call__(self, kind):
        if self.scheme == "course":
            return {"conv": "conv1", "bn": "bn_conv1"}.get(kind, f"conv1_{kind}")
        return f"conv1_{kind}"


def stage(x, arch: Architecture, index: int, style: ConvStyle, *, plain=False):
    """The blocks of residual stage `index` (0-based; named stage index + 2, as conv2 … conv5)."""
    number = index + 2
    width, depth, strides = arch.widths[index], arch.depths[index], arch.strides[index]
    for b in range(1, depth + 1):
        names = BlockNames(number, b, arch.names)
        strided = (b == 1) if arch.stride_in == "first" else (b == depth)
        block_strides = strides if strided else 1
        x = _block(x, arch, style, names, width, block_strides, first=b == 1, shortcut=not plain)
    return x


def _block(x, arch, style, names, width, strides, *, first, shortcut):
    if arch.block == "basic":
        changes_shape = strides > 1 or x.shape[-1] != width
        kind = arch.shortcut if changes_shape else "identity"
        return basic_block(x, width, names=names, style=style, strides=strides, shortcut_kind=kind,
                           shortcut=shortcut)
    if arch.block == "preact_bottleneck":
        return preact_bottleneck_block(x, width, names=names, style=style, strides=strides, projection=first,
                                       shortcut=shortcut)
    return bottleneck_block(x, width, names=names, style=style, strides=strides, projection=first,
                            stride_on=arch.stride_on, shortcut=shortcut)


def head(x, arch: Architecture, style: ConvStyle, *, include_top, pooling, classes, classifier_activation):
    if arch.block == "preact_bottleneck":
        if style.batch_norm:
            x = style.bn("post_bn")(x)
        x = layers.Activation("relu", name="post_relu")(x)
    if include_top:
        if arch.head == "avgpool_flatten":
            x = layers.AveragePooling2D(2, padding="same", name="avg_pool")(x)
            x = layers.Flatten(name="flatten")(x)
            name = f"fc{classes}"
        else:
            x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
            name = "predictions"
        regularizer = style.regularizer()
        return layers.Dense(classes, activation=classifier_activation, kernel_initializer=style.initializer(name),
                            kernel_regularizer=regularizer, bias_regularizer=regularizer, name=name)(x)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def build(name: str = "resnet50", *, include_top: bool = True, weights=None, input_tensor=None,
          input_shape=None, pooling=None, classes: int | None = None, classifier_activation="softmax",
          plain: bool = False, batch_norm: bool = True, kernel_initializer: str | None = None,
          seed: int | None = None) -> keras.Model:
    """Build a network of the table, with keras.applications' arguments and the explorer's switches.

    `plain=True` builds the plain twin (no shortcuts); `batch_norm=False` drops every BatchNorm;
    `kernel_initializer` replaces the row's; `seed` makes the initial weights reproducible.
    """
    arch = get(name)
    _check_arguments(arch, weights, include_top, pooling, classes, plain, batch_norm)
    style = replace(arch.style, batch_norm=batch_norm,
                    kernel_initializer=kernel_initializer or arch.style.kernel_initializer, seed=seed)
    classes = classes or arch.classes
    inputs, x = _inputs(arch, input_tensor, input_shape)
    x = stem(x, arch, style)
    for index in range(len(arch.depths)):
        x = stage(x, arch, index, style, plain=plain)
    x = head(x, arch, style, include_top=include_top, pooling=pooling, classes=classes,
             classifier_activation=classifier_activation)
    model = keras.Model(inputs, x, name=arch.name + ("_plain" if plain else ""))
    if weights == "imagenet":
        from resnet.weights import imagenet_weights_path

        model.load_weights(imagenet_weights_path(arch.name, include_top=include_top))
    elif weights is not None:
        from resnet.weights import load_weights_file

        load_weights_file(model, weights)
    return model


def _check_arguments(arch, weights, include_top, pooling, classes, plain, batch_norm):
    if pooling not in (None, "avg", "max"):
        raise UserError(f"pooling must be None, 'avg' or 'max', not {pooling!r}")
    if classes is not None and classes < 1:
        raise UserError(f"classes must be a positive number, not {classes}")
    if weights is None:
        return
    if weights == "imagenet":
        if arch.imagenet_weights is None:
            raise UserError(f"{arch.name} has no published ImageNet weights; use weights=None or a file of yours")
        if include_top and classes not in (None, 1000):
            raise UserError(f"ImageNet weights have a 1000-class top; got classes={classes} (use include_top=False)")
        if plain or not batch_norm:
            raise UserError("ImageNet weights exist only for the residual network with BatchNorm, not its variants")
    elif not os.path.isfile(os.fspath(weights)):
        raise UserError(f"weights must be None, 'imagenet' or the path of a weights file; {weights} does not exist")


def _inputs(arch, input_tensor, input_shape):
    shape = tuple(input_shape or arch.input_shape)
    if len(shape) != 3 or shape[-1] != 3:
        raise UserError(f"input_shape must be (height, width, 3), not {shape}")
    smallest = 32 if arch.stem != "cifar" else 8
    if min(s for s in shape[:2] if s is not None) < smallest:
        raise UserError(f"input images must be at least {smallest}×{smallest} pixels for {arch.name}, not {shape}")
    if input_tensor is None:
        inputs = keras.Input(shape=shape, name="input_layer")
        return inputs, inputs
    if not keras.backend.is_keras_tensor(input_tensor):
        input_tensor = keras.Input(tensor=input_tensor, shape=shape)
    return keras.utils.get_source_inputs(input_tensor), input_tensor


# --- pieces of a network, for diagrams -----------------------------------------------------------------------------

def block_model(name: str = "resnet50", kind: str = "identity", *, plain: bool = False, stage_number: int = 3,
                batch_norm: bool = True) -> keras.Model:
    """One block of `name`'s stage `stage_number` on its own: "projection" is the stage's first block, "identity"
    the second — the shapes they see inside the real network."""
    arch = get(name)
    if kind not in ("identity", "projection"):
        raise UserError(f"block must be 'identity' or 'projection', not {kind!r}")
    full = build(name, include_top=False, batch_norm=batch_norm)
    index = stage_number - 2
    if not 0 <= index < len(arch.depths):
        raise UserError(f"{name} has stages 2 to {len(arch.depths) + 1}, not {stage_number}")
    stage_input = _stage_input_shape(full, arch, index)
    style = replace(arch.style, batch_norm=batch_norm)
    width, strides = arch.widths[index], arch.strides[index]
    if kind == "projection":
        shape = stage_input
        names = BlockNames(stage_number, 1, arch.names)
        block_strides = strides if arch.stride_in == "first" else 1
        first = True
    else:
        shape = full.get_layer(BlockNames(stage_number, 1, arch.names)(None, "out")).output.shape[1:]
        names = BlockNames(stage_number, 2, arch.names)
        block_strides, first = 1, False
    inputs = keras.Input(shape=tuple(shape), name="block_input")
    x = _block(inputs, arch, style, names, width, block_strides, first=first, shortcut=not plain)
    title = f"{arch.name}_{kind}_block" + ("_plain" if plain else "")
    return keras.Model(inputs, x, name=title)


def stage_model(name: str = "resnet50", stage_number: int = 3, *, plain: bool = False,
                batch_norm: bool = True) -> keras.Model:
    """Residual stage `stage_number` (2 = conv2 …) of `name` on its own, fed the shape it sees in the network."""
    arch = get(name)
    index = stage_number - 2
    if not 0 <= index < len(arch.depths):
        raise UserError(f"{name} has stages 2 to {len(arch.depths) + 1}, not {stage_number}")
    full = build(name, include_top=False, batch_norm=batch_norm)
    inputs = keras.Input(shape=tuple(_stage_input_shape(full, arch, index)), name="stage_input")
    style = replace(arch.style, batch_norm=batch_norm)
    x = stage(inputs, arch, index, style, plain=plain)
    return keras.Model(inputs, x, name=f"{arch.name}_stage{stage_number}" + ("_plain" if plain else ""))


def _stage_input_shape(full, arch, index):
    if index > 0:
        previous = BlockNames(index + 1, arch.depths[index - 1], arch.names)(None, "out")
        return full.get_layer(previous).output.shape[1:]
    if arch.stem == "cifar":
        return full.get_layer("conv1_relu").output.shape[1:]
    return full.get_layer("pool1_pool" if arch.names == "keras" else "pool1").output.shape[1:]


# --- where a layer sits --------------------------------------------------------------------------------------------

_KERAS_BLOCK = re.compile(r"^conv(\d+)_block(\d+)_")
_COURSE_BLOCK = re.compile(r"^(?:res|bn)(\d+)([a-z])_")
STEM, HEAD = 1, 6


def locate(layer_name: str) -> tuple[int, int]:
    """(stage, block) of a layer: stage 1 is the stem, 2… the residual stages, `HEAD` the classifier; block 0 for
    layers outside a block."""
    match = _KERAS_BLOCK.match(layer_name)
    if match:
        return int(match[1]), int(match[2])
    match = _COURSE_BLOCK.match(layer_name)
    if match:
        return int(match[1]), ord(match[2]) - ord("a") + 1
    if layer_name.startswith(("conv1", "bn_conv1", "pool1", "input")):
        return STEM, 0
    return HEAD, 0


__all__ = ["ARCHITECTURES", "Architecture", "build", "block_model", "get", "locate", "stage_model"]


def catalogue():
    """The architecture table as a DataFrame, one row per network: what tells the seeds' ResNet-50s apart."""
    import pandas as pd

    rows = []
    for arch in ARCHITECTURES.values():
        rows.append({
            "name": arch.name,
            "network": arch.title,
            "block": arch.block.replace("_", " "),
            "blocks per stage": "-".join(map(str, arch.depths)),
            "widths": "-".join(map(str, arch.widths)),
            "down-sampling stride on": (
                "first 1×1" if arch.block == "bottleneck" and arch.stride_on == "1x1" else "3×3"),
            "shortcut when shape changes": "zero-padding (A)" if arch.shortcut == "zeros" else "projection (B)",
            "conv bias": arch.style.use_bias,
            "initialiser": arch.style.kernel_initializer,
            "L2": arch.style.weight_decay,
            "input": "×".join(map(str, arch.input_shape)),
            "classes": arch.classes,
            "ImageNet weights": arch.imagenet_weights is not None,
            "source": arch.source,
        })
    return pd.DataFrame(rows)
