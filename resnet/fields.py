"""Receptive fields as values: the theoretical box of a unit and its effective field's summary (no TensorFlow: a
page served by the network tier rebuilds them from JSON); `resnet.receptive` computes them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Box:
    """Input pixels from `top` to `bottom` and `left` to `right`, both ends included; may reach past the image."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def size(self) -> int:
        return self.bottom - self.top + 1

    @property
    def centre(self) -> tuple[float, float]:
        return (self.top + self.bottom) / 2, (self.left + self.right) / 2

    def clipped(self, height: int, width: int) -> Box:
        """The part of the box inside an image of that size."""
        return Box(max(self.top, 0), max(self.left, 0), min(self.bottom, height - 1), min(self.right, width - 1))

    def to_json(self) -> dict:
        return {"top": self.top, "left": self.left, "bottom": self.bottom, "right": self.right}

    @classmethod
    def from_json(cls, document: dict) -> Box:
        return cls(int(document["top"]), int(document["left"]), int(document["bottom"]), int(document["right"]))


@dataclass(frozen=True)
class EffectiveField:
    """The effective receptive field of one unit, and how it sits in its theoretical box."""

    heat: np.ndarray  # (height, width) of the input: mean over the images of Σ_channels |∂ unit / ∂ pixel|
    box: Box
    radius_50: float | None  # the smallest radius around the box's centre holding 50% of the gradient mass
    radius_90: float | None  # … 90%; None where the unit does not depend on the input at all (a dead ReLU)
    mass_in_box: float  # the share of the gradient mass inside the box: 1 up to rounding
    peak: tuple[int, int]  # the pixel the unit depends on most

    def to_json(self, *, heat: bool = False) -> dict:
        """The summary (what the CLI prints); `heat`: with the box and the heat map too, what `from_json` reads."""
        document = {"radius_50": self.radius_50, "radius_90": self.radius_90, "mass_in_box": self.mass_in_box,
                    "peak": list(self.peak)}
        if heat:
            document.update(box=self.box.to_json(), heat=np.asarray(self.heat, np.float64).tolist())
        return document

    @classmethod
    def from_json(cls, document: dict) -> EffectiveField:
        """The field a `to_json(heat=True)` document describes."""
        def radius(value):
            return None if value is None else float(value)

        return cls(np.asarray(document["heat"], np.float64), Box.from_json(document["box"]),
                   radius(document["radius_50"]), radius(document["radius_90"]), float(document["mass_in_box"]),
                   tuple(int(i) for i in document["peak"]))


def summarise(heat: np.ndarray, box: Box) -> EffectiveField:
    """Radii of 50% and 90% of the mass around the centre of `box`, the share inside it, and the peak."""
    heat = np.asarray(heat, np.float64)
    total = float(heat.sum())
    peak = tuple(int(i) for i in np.unravel_index(np.argmax(heat), heat.shape))
    if total <= 0:
        return EffectiveField(heat, box, None, None, 0.0, peak)
    rows, columns = np.indices(heat.shape)
    centre_row, centre_column = box.centre
    distance = np.hypot(rows - centre_row, columns - centre_column).ravel()
    order = np.argsort(distance, kind="stable")
    mass = np.cumsum(heat.ravel()[order]) / total
    radius = [float(distance[order][np.searchsorted(mass, share - 1e-12)]) for share in (0.5, 0.9)]
    inside = box.clipped(*heat.shape)
    in_box = float(heat[inside.top:inside.bottom + 1, inside.left:inside.right + 1].sum()) / total
    return EffectiveField(heat, box, radius[0], radius[1], in_box, peak)
