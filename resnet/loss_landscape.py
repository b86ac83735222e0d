"""The road the weights took: the held-out loss around a trained lab net.

The line (Goodfellow, Vinyals & Saxe, ICLR 2015): every weight w(α) = w₀ + α (w₁ − w₀) from the initial weights
(α = 0) to the trained ones (α = 1), a little beyond both ends. All weights move, BatchNorm's moving statistics
included, so each end is exactly the network as it was: at α = 0 the untrained net, at 1 the trained one.

The 2-D slice (Li, Xu, Taylor, Studer & Goldstein, NeurIPS 2018): w₁ + a·d₁ + b·d₂ for two random directions, each
*filter-normalised*: every filter (output channel) of a direction's kernel is scaled to the norm of the same filter
of the trained kernel, so that a step means as much to a layer of small weights as to one of large ones (and the
scale invariance BatchNorm gives a layer cannot hide a sharp valley). BatchNorm's parameters and the biases are left
where training put them (their direction is zero), as in Li et al.

Each point is one forward pass over the held-out images, on a copy of the net: the trained net is never moved.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from resnet.heldout import Evaluator
from resnet.trained import TrainedNet

LINE_MARGIN = 0.5  # how far beyond each end the line goes, in units of the whole road
SLICE_SPAN = 1.0  # the slice's a and b run over [−1, 1], Li et al.'s range


@dataclass(frozen=True)
class LinePoint:
    alpha: float  # 0: the initial weights, 1: the trained ones
    loss: float  # held-out loss there


@dataclass(frozen=True)
class LossSlice:
    alphas: tuple[float, ...]  # along the first direction (columns of `loss`)
    betas: tuple[float, ...]  # along the second (rows)
    loss: np.ndarray  # (len(betas), len(alphas)); the centre is the trained net

    @property
    def centre(self) -> float:
        return float(self.loss[len(self.betas) // 2, len(self.alphas) // 2])

    def to_dict(self) -> dict:
        return {"alphas": list(self.alphas), "betas": list(self.betas), "loss": self.loss.tolist()}


def _copy(model: keras.Model) -> keras.Model:
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def line_alphas(points: int) -> np.ndarray:
    """`points` values of α from −LINE_MARGIN to 1 + LINE_MARGIN, evenly spaced, with 0 and 1 always among them."""
    evenly = np.linspace(-LINE_MARGIN, 1 + LINE_MARGIN, points)
    return np.unique(np.concatenate([evenly, [0.0, 1.0]]).round(10))


def loss_along_line(net: TrainedNet, points: int) -> list[LinePoint]:
    """Held-out loss at each α of `line_alphas(points)`."""
    copy = _copy(net.model)
    evaluator = Evaluator(copy, net.heldout)
    start = [np.asarray(w, np.float32) for w in net.initial]
    end = [w.numpy() for w in net.model.weights]
    line = []
    for alpha in line_alphas(points):
        for variable, w0, w1 in zip(copy.weights, start, end):
            variable.assign(w0 + np.float32(alpha) * (w1 - w0))
        line.append(LinePoint(float(alpha), evaluator.loss()))
    return line


def has_filters(layer: keras.layers.Layer) -> bool:
    """Convolutions and dense layers: the weights a slice moves (their kernels; BatchNorm and biases stay)."""
    return isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))


def filter_norms(kernel: np.ndarray) -> np.ndarray:
    """‖filter‖₂ of every output channel (the last axis of a Conv2D or Dense kernel)."""
    return np.linalg.norm(kernel.reshape(-1, kernel.shape[-1]), axis=0)


def filter_normalised_direction(kernels: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """A Gaussian direction of the kernels' shapes, each filter scaled to the norm of the kernel's same filter."""
    direction = []
    for kernel in kernels:
        d = rng.normal(size=kernel.shape).astype(np.float32)
        direction.append(d * (filter_norms(kernel) / np.maximum(filter_norms(d), 1e-12)).astype(np.float32))
    return direction


def loss_slice(net: TrainedNet, side: int, *, seed: int = 0, span: float = SLICE_SPAN) -> LossSlice:
    """Held-out loss on a side × side grid of w₁ + a·d₁ + b·d₂, a and b in [−span, span]; `side` odd, so the
    centre is the trained net."""
    copy = _copy(net.model)
    evaluator = Evaluator(copy, net.heldout)
    kernels = [layer.kernel for layer in copy.layers if has_filters(layer)]
    trained = [kernel.numpy() for kernel in kernels]
    rng = np.random.default_rng(seed)
    first, second = filter_normalised_direction(trained, rng), filter_normalised_direction(trained, rng)
    steps = np.linspace(-span, span, side)
    loss = np.empty((side, side))
    for row, b in enumerate(steps):
        for column, a in enumerate(steps):
            for kernel, w, d1, d2 in zip(kernels, trained, first, second):
                kernel.assign(w + np.float32(a) * d1 + np.float32(b) * d2)
            loss[row, column] = evaluator.loss()
    return LossSlice(tuple(map(float, steps)), tuple(map(float, steps)), loss)
