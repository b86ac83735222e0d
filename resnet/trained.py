"""A net the gradient lab trained, kept with what it takes to look inside it: its initial weights (the line starts
there), the held-out images it never saw, and what was measured on them.

`measure` fills in what a run was asked for after training: lesions, the line, the 2-D slice and the sanity check,
each bounded by the run's limits (resnet/limits.py) and each a number of forward passes over the held-out images.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np

from resnet.datasets import HeldOut, lab_input
from resnet.heldout import HeldOutResult
from resnet.lab_cam import LabCam
from resnet.lab_lesions import LesionAccuracy, heldout_lesions
from resnet.loss_landscape import LinePoint, LossSlice, loss_along_line, loss_slice
from resnet.sanity import SanityStep, cascading_randomisation


@dataclasses.dataclass
class TrainedNet:
    name: str  # "resnet20", or its twin "plain20"
    arch: str  # the architecture table's row
    plain: bool
    build_options: dict  # what resnet.build was called with besides arch (for a freshly initialised copy)
    model: keras.Model
    initial: list  # every weight of `model` (model.weights' order) before the first step
    heldout: HeldOut
    result: HeldOutResult
    steps: int  # training steps done
    lesions: list[LesionAccuracy] | None = None
    line: list[LinePoint] | None = None
    slice: LossSlice | None = None
    sanity: list[SanityStep] | None = None
    sanity_image: int | None = None  # which held-out image the sanity check explains
    _cam: LabCam | None = dataclasses.field(default=None, repr=False)

    def cam(self, index: int, class_index: int | None = None) -> np.ndarray:
        """Grad-CAM of held-out image `index` for `class_index` (default: the class the net answered), [0, 1]."""
        if self._cam is None:
            self._cam = LabCam(self.model)
        if class_index is None:
            class_index = int(self.result.predictions[index])
        return self._cam(lab_input(self.heldout.images[index]), class_index)

    def to_dict(self) -> dict:
        """What the CLI's --json and the page's download say of this net: plain JSON values."""
        document = {"heldout": self.result.to_dict(), "steps": self.steps}
        if self.lesions is not None:
            document["lesions"] = [dataclasses.asdict(lesion) for lesion in self.lesions]
        if self.line is not None:
            document["line"] = [dataclasses.asdict(point) for point in self.line]
        if self.slice is not None:
            document["slice"] = self.slice.to_dict()
        if self.sanity is not None:
            document["sanity"] = {"image": self.sanity_image,
                                  "steps": [{"randomised": s.randomised, "rank_correlation": s.rank_correlation}
                                            for s in self.sanity]}
        return document

    def save(self, folder: str | Path) -> Path:
        """The trained net as `folder/NAME.keras`, which keras.saving.load_model opens (with resnet imported, for
        the zero-padding shortcut's layer class)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.name}.keras"
        self.model.save(path)
        return path


def measure(net: TrainedNet, *, lesions: bool = False, line_points: int = 0, slice_side: int = 0,
            sanity: bool = False, seed: int = 0) -> TrainedNet:
    """Fill in what was asked for; the sizes were checked with the run's configuration (Limits.check_measures)."""
    if lesions:
        net.lesions = heldout_lesions(net)
    if line_points:
        net.line = loss_along_line(net, line_points)
    if slice_side:
        net.slice = loss_slice(net, slice_side, seed=seed)
    if sanity and len(net.heldout.labels):
        net.sanity_image = first_right_answer(net)
        net.sanity = cascading_randomisation(net, net.sanity_image, seed=seed)
    return net


def first_right_answer(net: TrainedNet) -> int:
    """The held-out image the sanity check explains: the first one the net answers right (else the first)."""
    right = np.flatnonzero(net.result.predictions == net.heldout.labels)
    return int(right[0]) if len(right) else 0
