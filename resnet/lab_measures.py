"""What a lab run measures on its trained nets once training ends, as its configuration asked: lesions, the line,
the 2-D slice and the sanity check, each bounded by the run's limits (resnet/limits.py, checked with the
configuration) and each a number of forward passes over the held-out images."""

from __future__ import annotations

import numpy as np

from resnet.lab_lesions import heldout_lesions
from resnet.loss_landscape import loss_along_line, loss_slice
from resnet.sanity import cascading_randomisation
from resnet.trained import TrainedNet


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
