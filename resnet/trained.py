"""A net the gradient lab trained, kept with what it takes to look inside it: its initial weights (the line starts
there), the held-out images it never saw, and what was measured on them.

resnet/lab_measures.py fills in what a run was asked for after training: lesions (resnet/lab_lesions.py), the line
and the 2-D slice (resnet/loss_landscape.py), the sanity check (resnet/sanity.py).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np

from resnet.architectures import ARCHITECTURES
from resnet.datasets import HeldOut, lab_input
from resnet.heldout import HeldOutResult
from resnet.lab_cam import LabCam


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
    # Measured on request (None: not asked for). Their types live in the modules that measure them, which read a
    # TrainedNet: lab_lesions.LesionAccuracy, loss_landscape.LinePoint and LossSlice, sanity.SanityStep.
    lesions: list | None = None
    line: list | None = None
    slice: object | None = None
    sanity: list | None = None
    sanity_image: int | None = None  # which held-out image the sanity check explains
    _cam: LabCam | None = dataclasses.field(default=None, repr=False)
    # What a page made to look at this net (resnet.trained_classifier), kept as long as the net is.
    views: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)

    def cam(self, index: int, class_index: int | None = None) -> np.ndarray:
        """Grad-CAM of held-out image `index` for `class_index` (default: the class the net answered), [0, 1]."""
        if self._cam is None:
            self._cam = LabCam(self.model, ARCHITECTURES[self.arch].cam_layer)
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
