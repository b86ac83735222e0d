"""One table of architectures, and the one builder it drives.

Every network the explorer knows is a row of `ARCHITECTURES`: stem, block kind, blocks and widths per stage, where
the stride sits, how convolutions are made, the head and the naming scheme. `build()` turns a row into a Keras
model with keras.applications' arguments (`include_top`, `weights`, `input_tensor`, `input_shape`, `pooling`,
`classes`, `classifier_activation`) plus the explorer's own switches (`plain`, `batch_norm`,
`kernel_initializer`, `seed`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Literal, get_args

import pandas as pd

from resnet import naming
from resnet.lazy import OnFirstUse
from resnet.styles import ConvStyle
from resnet.errors import UnknownArchitecture, UserError
from resnet.naming import BlockNames, Naming, StemNames
from resnet.weights import MD5, imagenet_weights_path, load_weights_file

# Imported when a network is first built: the table itself is read without TensorFlow (resnet/lazy.py).
keras = OnFirstUse("keras")
layers = OnFirstUse("keras.layers")
blocks = OnFirstUse("resnet.blocks")

__all__ = ["ARCHITECTURES", "Architecture", "ModelSpec", "block_model", "build", "catalogue", "get", "stage_model"]

Block = Literal["bottleneck", "preact_bottleneck", "basic"]
Stem = Literal["imagenet", "preact", "course", "cifar"]
StrideOn = Literal["1x1", "3x3"]  # which conv of a down-sampling bottleneck strides
StrideIn = Literal["first", "last"]  # which block of a stage strides: the first (v1) or the last (keras' V2)
Shortcut = Literal["projection", "zeros"]  # how a changed shape is matched: a 1×1 conv (B) or zero channels (A)
Head = Literal["gap", "avgpool_flatten"]  # a global average pool, or the course's AvgPool(2) → Flatten

# The fields whose values the builder branches on, and the values it knows.
_CHOICES = {"block": get_args(Block), "stem": get_args(Stem), "stride_on": get_args(StrideOn),
            "stride_in": get_args(StrideIn), "shortcut": get_args(Shortcut), "head": get_args(Head),
            "naming": get_args(Naming)}


@dataclass(frozen=True)
class Architecture:
    """One row of the table. Its `__post_init__` refuses a value the builder does not know, so a typo in a new row
    fails at import instead of building some other network."""

    name: str
    title: str
    block: Block
    depths: tuple[int, ...]  # blocks per residual stage
    widths: tuple[int, ...]  # bottleneck (or basic-block) width per stage
    strides: tuple[int, ...]  # stride of each stage
    stem: Stem = "imagenet"
    stride_on: StrideOn = "1x1"
    stride_in: StrideIn = "first"
    shortcut: Shortcut = "projection"
    style: ConvStyle = ConvStyle()
    head: Head = "gap"
    naming: Naming = "keras"
    input_shape: tuple[int, int, int] = (224, 224, 3)
    classes: int = 1000
    stem_width: int = 64
    imagenet_weights: str | None = None  # the keras.applications file stem, where official weights exist
    lab_image_size: int | None = None  # the side the gradient lab trains it at; None: not offered in the lab
    source: str = ""

    def __post_init__(self):
        for field, allowed in _CHOICES.items():
            value = getattr(self, field)
            if value not in allowed:
                raise ValueError(f"{self.name}: {field} is {value!r}; choose one of {', '.join(map(repr, allowed))}")
        stages = {"depths": self.depths, "widths": self.widths, "strides": self.strides}
        for field, values in stages.items():
            if not isinstance(values, tuple) or not values or not all(_positive(v) for v in values):
                raise ValueError(f"{self.name}: {field} must be a non-empty tuple of positive whole numbers, "
                                 f"not {values!r}")
        if len({len(values) for values in stages.values()}) != 1:
            raise ValueError(f"{self.name}: depths, widths and strides must give one value per stage, not "
                             + ", ".join(f"{len(values)} {field}" for field, values in stages.items()))
        most = naming.HEAD - naming.STEM - 1  # the residual stages are numbered between the stem's and the head's
        if len(self.depths) > most:
            raise ValueError(f"{self.name}: at most {most} residual stages, not {len(self.depths)}")
        if self.lab_image_size is not None and not _positive(self.lab_image_size):
            raise ValueError(f"{self.name}: lab_image_size must be a positive whole number or None")
        for field in ("classes", "stem_width"):
            if not _positive(getattr(self, field)):
                raise ValueError(f"{self.name}: {field} must be a positive whole number, not {getattr(self, field)!r}")
        if len(self.input_shape) != 3 or self.input_shape[-1] != 3 or not all(map(_positive, self.input_shape)):
            raise ValueError(f"{self.name}: input_shape must be (height, width, 3), not {self.input_shape!r}")
        if self.naming == "course" and max(self.depths) > 26:
            raise ValueError(f"{self.name}: the course's naming letters blocks a … z, so at most 26 per stage")
        if self.imagenet_weights is not None and self.imagenet_weights not in MD5:
            raise ValueError(f"{self.name}: imagenet_weights is {self.imagenet_weights!r}; keras.applications' "
                             f"files are {', '.join(MD5)}")
        # Values that only one kind of block reads: elsewhere they would be ignored, and the row would not build
        # what it says.
        if self.shortcut == "zeros" and self.block != "basic":
            raise ValueError(f"{self.name}: shortcut 'zeros' needs block 'basic' (bottlenecks always project)")
        if self.stride_on == "3x3" and self.block != "bottleneck":
            raise ValueError(f"{self.name}: stride_on '3x3' needs block 'bottleneck'")

    @property
    def preprocessing(self) -> str:
        """The `preprocess_input` convention of the network's weights: caffe (BGR, mean) or tf (±1)."""
        return "tf" if self.block == "preact_bottleneck" else "caffe"

    @property
    def depth(self) -> int:
        """Weighted layers on the main path: the number in the network's name."""
        per_block = 2 if self.block == "basic" else 3
        return per_block * sum(self.depths) + 2

    @property
    def cam_layer(self) -> str:
        """The Grad-CAM view's default layer: the last residual stage's output (post_relu in V2, where the last
        block's addition is normalised once more before the pool)."""
        if self.block == "preact_bottleneck":
            return "post_relu"
        return BlockNames(len(self.depths) + 1, self.depths[-1], self.naming)(None, "out")

    @property
    def field_layer(self) -> str:
        """The receptive-field view's default layer: the output of the second residual stage's last block
        (conv3_block4_out in ResNet-50: a 99-pixel box on a 28×28 map), or the first stage's in a one-stage net."""
        stage = min(3, len(self.depths) + 1)
        return BlockNames(stage, self.depths[stage - 2], self.naming)(None, "out")

    @property
    def stem_output(self) -> str:
        """The stem's last layer, which feeds the first residual stage."""
        return StemNames(self.naming)("relu" if self.stem == "cifar" else "pool")


def _positive(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


_V1 = dict(block="bottleneck", widths=(64, 128, 256, 512), strides=(1, 2, 2, 2))
_V2 = dict(block="preact_bottleneck", stem="preact", widths=(64, 128, 256, 512), strides=(2, 2, 2, 1),
           stride_in="last")
# The gradient lab trains the CIFAR nets at their own 32×32 and the ImageNet family at the course's 64×64: 224×224
# would be far too slow for a short run on a shared CPU.
_SMALL = dict(block="basic", widths=(64, 128, 256, 512), strides=(1, 2, 2, 2), lab_image_size=64,
              style=ConvStyle(use_bias=False, kernel_initializer="he_normal"))
_CIFAR = dict(block="basic", stem="cifar", stem_width=16, widths=(16, 32, 64), strides=(1, 2, 2), shortcut="zeros",
              style=ConvStyle(use_bias=False, kernel_initializer="he_normal"), input_shape=(32, 32, 3), classes=10,
              lab_image_size=32)

_ROWS = [
    Architecture("resnet18", "ResNet-18", depths=(2, 2, 2, 2), source="He et al. 2016, Table 1", **_SMALL),
    Architecture("resnet34", "ResNet-34", depths=(3, 4, 6, 3), source="He et al. 2016, Table 1", **_SMALL),
    Architecture("resnet50", "ResNet-50", depths=(3, 4, 6, 3), imagenet_weights="resnet50", lab_image_size=64,
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
    # The course's net (the deeplearning.ai assignment and Peixeiro's guide): Keras' default BatchNorm constants, no
    # padding before the max-pool, and AvgPool(2) → Flatten instead of a global pool. Stage 2 does not stride, as in
    # the original assignment.
    Architecture("resnet50_course", "ResNet-50 (course, 64×64, 6 classes)", depths=(3, 4, 6, 3), stem="course",
                 style=ConvStyle(bn_epsilon=1e-3), head="avgpool_flatten", naming="course", input_shape=(64, 64, 3),
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
    names = StemNames(arch.naming)
    if arch.stem == "cifar":
        x = style.conv(arch.stem_width, 3, padding="same", name=names("conv"))(x)
        if style.batch_norm:
            x = style.bn(names("bn"))(x)
        return layers.Activation("relu", name=names("relu"))(x)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name=names("pad"))(x)
    x = style.conv(arch.stem_width, 7, strides=2, name=names("conv"),
                   use_bias=True if arch.stem == "preact" else None)(x)
    if arch.stem != "preact":  # V2 normalises at the start of each block instead
        if style.batch_norm:
            x = style.bn(names("bn"))(x)
        x = layers.Activation("relu", name=names("relu"))(x)
    if arch.stem != "course":
        x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name=names("pool_pad"))(x)
    return layers.MaxPooling2D(3, strides=2, name=names("pool"))(x)


def stage(x, arch: Architecture, index: int, style: ConvStyle, *, plain=False):
    """The blocks of residual stage `index` (0-based; named stage index + 2, as conv2 … conv5)."""
    number = index + 2
    width, depth, strides = arch.widths[index], arch.depths[index], arch.strides[index]
    for b in range(1, depth + 1):
        names = BlockNames(number, b, arch.naming)
        strided = (b == 1) if arch.stride_in == "first" else (b == depth)
        block_strides = strides if strided else 1
        x = _block(x, arch, style, names, width, block_strides, first=b == 1, shortcut=not plain)
    return x


def _block(x, arch, style, names, width, strides, *, first, shortcut):
    if arch.block == "basic":
        changes_shape = strides > 1 or x.shape[-1] != width
        kind = arch.shortcut if changes_shape else "identity"
        return blocks.basic_block(x, width, names=names, style=style, strides=strides, shortcut_kind=kind,
                                  shortcut=shortcut)
    if arch.block == "preact_bottleneck":
        return blocks.preact_bottleneck_block(x, width, names=names, style=style, strides=strides,
                                              projection=first, shortcut=shortcut)
    if arch.block == "bottleneck":
        return blocks.bottleneck_block(x, width, names=names, style=style, strides=strides, projection=first,
                                       stride_on=arch.stride_on, shortcut=shortcut)
    raise ValueError(f"{arch.name}: no builder for block {arch.block!r}")


def head(x, arch: Architecture, style: ConvStyle, *, include_top, pooling, classes, classifier_activation):
    if arch.block == "preact_bottleneck":
        if style.batch_norm:
            x = style.bn("post_bn")(x)
        x = layers.Activation("relu", name="post_relu")(x)
    if include_top:
        if arch.head == "avgpool_flatten":
            x = layers.AveragePooling2D(2, padding="same", name="avg_pool")(x)
            x = layers.Flatten(name="flatten")(x)
        else:
            x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        name = naming.classifier(arch.naming, classes)
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
        model.load_weights(imagenet_weights_path(arch.imagenet_weights, include_top=include_top))
    elif weights is not None:
        load_weights_file(model, weights)
    return model


@dataclass(frozen=True)
class ModelSpec:
    """A network of the table as plain values: what `build` is called with to show one (a summary, a diagram, a
    page's table), and a key to cache what is drawn of it."""

    arch: str = "resnet50"
    input_size: int | None = None  # None: the architecture's own (224, 32 or 64)
    classes: int | None = None  # None: the architecture's own
    include_top: bool = True
    plain: bool = False
    batch_norm: bool = True

    def build(self) -> keras.Model:
        input_shape = None if self.input_size is None else (self.input_size, self.input_size, 3)
        return build(self.arch, include_top=self.include_top, input_shape=input_shape, classes=self.classes,
                     plain=self.plain, batch_norm=self.batch_norm)


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
        inputs = keras.Input(shape=shape, name=naming.INPUT)
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
        names = BlockNames(stage_number, 1, arch.naming)
        block_strides = strides if arch.stride_in == "first" else 1
        first = True
    else:
        shape = full.get_layer(BlockNames(stage_number, 1, arch.naming)(None, "out")).output.shape[1:]
        names = BlockNames(stage_number, 2, arch.naming)
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
    previous = BlockNames(index + 1, arch.depths[index - 1], arch.naming)(None, "out") if index else arch.stem_output
    return full.get_layer(previous).output.shape[1:]


def catalogue():
    """The architecture table as a DataFrame, one row per network: what tells the source articles' ResNet-50s apart."""
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
