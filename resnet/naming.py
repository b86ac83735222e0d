"""Layer names: how a network of the table names its layers, and how a name is read back into its place.

Two schemes. "keras" is keras.applications' (`conv1_conv`, `pool1_pool`, `conv2_block1_1_conv`, `conv2_block1_0_bn`,
`conv2_block1_add`, `conv2_block1_out`); "course" is the deeplearning.ai course's (`conv1`, `bn_conv1`, `pool1`,
`res2a_branch2a`, `bn2a_branch1`). The builder names every layer through this module and every reader of names (the
per-layer table, the diagrams, the residual blocks) reads them back through it, so a new scheme is written here only.

Places are (stage, block): stage `STEM` (1) is everything before the first residual stage, 2 … 5 the residual stages
(conv2 … conv5), `HEAD` (6) everything after; block 1, 2 … within a residual stage, 0 outside one. The stem and the
head keep their numbers in the three-stage CIFAR nets too, so "head" is always stage 6.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

Naming = Literal["keras", "course"]
SCHEMES: tuple[str, ...] = get_args(Naming)

STEM, HEAD = 1, 6
INPUT = "input_layer"  # the network's input, as keras.Input names it by default

_KERAS_BLOCK = re.compile(r"^conv(\d+)_block(\d+)_")
_COURSE_BLOCK = re.compile(r"^(?:res|bn)(\d+)([a-z])_")
_STEM_PREFIXES = ("conv1", "bn_conv1", "pool1", "input")


def check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"unknown naming scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")


@dataclass(frozen=True)
class BlockNames:
    """Layer names of one residual block.

    `branch` 0 is the shortcut, 1–3 the main path's convolutions; `"preact"` is ResNet V2's pre-activation; `None`
    for the block's own `add` and `out`.
    """

    stage: int
    block: int
    scheme: Naming = "keras"

    def __post_init__(self):
        check_scheme(self.scheme)
        if self.scheme == "course" and not 1 <= self.block <= 26:
            raise ValueError(f"the course's scheme letters blocks a … z; it cannot name block {self.block}")

    @property
    def prefix(self) -> str:
        """What every layer of the block starts with, and the block's name: conv4_block3, or res4c."""
        if self.scheme == "course":
            return f"res{self.stage}{chr(ord('a') + self.block - 1)}"
        return f"conv{self.stage}_block{self.block}"

    def __call__(self, branch, kind: str) -> str:
        if kind in ("add", "out"):
            return f"{self.prefix}_{kind}"
        if self.scheme == "keras":
            return f"{self.prefix}_{branch}_{kind}"
        part = "branch1" if branch == 0 else f"branch2{'abc'[branch - 1]}"
        if kind == "conv":
            return f"{self.prefix}_{part}"
        if kind == "bn":
            return f"bn{self.prefix[3:]}_{part}"
        return f"{self.prefix}_{part}_{kind}"


@dataclass(frozen=True)
class StemNames:
    """Layer names of the stem: `kind` is pad, conv, bn, relu, then the max-pool's pool_pad and pool."""

    scheme: Naming = "keras"

    def __post_init__(self):
        check_scheme(self.scheme)

    def __call__(self, kind: str) -> str:
        if kind == "pool_pad":
            return "pool1_pad"
        if kind == "pool":
            return "pool1_pool" if self.scheme == "keras" else "pool1"
        if self.scheme == "course" and kind in ("conv", "bn"):
            return {"conv": "conv1", "bn": "bn_conv1"}[kind]
        return f"conv1_{kind}"


def classifier(scheme: Naming, classes: int) -> str:
    """The name of the last Dense layer: keras' `predictions`, the course's `fc6` (for six classes)."""
    check_scheme(scheme)
    return "predictions" if scheme == "keras" else f"fc{classes}"


def locate(layer_name: str) -> tuple[int, int]:
    """(stage, block) of a layer of either scheme; block 0 for layers outside a block."""
    match = _KERAS_BLOCK.match(layer_name)
    if match:
        return int(match[1]), int(match[2])
    match = _COURSE_BLOCK.match(layer_name)
    if match:
        return int(match[1]), ord(match[2]) - ord("a") + 1
    if layer_name.startswith(_STEM_PREFIXES):
        return STEM, 0
    return HEAD, 0


# Stages and blocks as the tables, diagrams and CLI show them: in keras' words whatever the network's scheme, so
# one key (`conv3`, `conv3_block2`) means the same place in every network.

def stage_name(stage: int) -> str:
    """`stem`, `conv2` … `conv5`, `head`."""
    return {STEM: "stem", HEAD: "head"}.get(stage, f"conv{stage}")


def block_key(stage: int, block: int) -> str:
    """`conv3_block2`: block 2 of stage 3."""
    return f"{stage_name(stage)}_block{block}"
