"""Is the heat map honest? Adebayo et al.'s cascading randomisation (Sanity Checks for Saliency Maps, NeurIPS 2018).

Start from the trained net and replace its weights by freshly initialised ones, one part at a time from the top down:
the classifier, then each residual block from the last to the first, then the stem. After each step, Grad-CAM of the
same image and class, and its Spearman rank correlation with the trained net's map. A map that stays the same while
the weights it claims to explain are destroyed shows the image, not what the net learned.

The fresh weights come from the same architecture built with another seed (the lab's own initialiser, BatchNorm back
to γ = 1, β = 0 and fresh moving statistics). Everything runs on a copy; the trained net is never changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

import resnet
from resnet.datasets import lab_input
from resnet.lab_cam import LabCam
from resnet.naming import block_key, locate, stage_name
from resnet.trained import TrainedNet

FRESH_SEED_OFFSET = 7919  # the fresh weights' seed is the run's plus this: never the run's own initial weights


@dataclass(frozen=True)
class SanityStep:
    randomised: str  # the part whose weights this step replaced ("nothing" for the trained net itself)
    cam: np.ndarray  # Grad-CAM after this step, in [0, 1], feature-map sized
    rank_correlation: float  # Spearman's ρ with the trained net's map; NaN where a map is flat (nothing stands out)


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's ρ: Pearson's correlation of the ranks (ties share their mean rank); NaN if either is constant."""
    ranks = [_ranks(np.ravel(x)) for x in (a, b)]
    if any(np.ptp(r) == 0 for r in ranks):
        return float("nan")
    return float(np.corrcoef(*ranks)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    for value in np.unique(values):  # ties: the mean of the ranks they span
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def weight_groups(model: keras.Model) -> list[tuple[str, list[keras.layers.Layer]]]:
    """The layers with weights, grouped by place (stem, each block, head), top down: what one step randomises."""
    groups: dict[str, list] = {}
    for layer in model.layers:
        if layer.weights:
            stage, block = locate(layer.name)
            groups.setdefault(block_key(stage, block) if block else stage_name(stage), []).append(layer)
    return list(reversed(groups.items()))


def cascading_randomisation(net: TrainedNet, image_index: int, *, seed: int = 0, layer: str | None = None,
                            class_index: int | None = None) -> list[SanityStep]:
    """Grad-CAM of held-out image `image_index` at `layer` (default: the row's cam_layer) for `class_index`
    (default: the trained net's answer), first with the trained weights ("nothing" randomised), then after each
    group of `weight_groups` is re-initialised in turn."""
    copy = keras.models.clone_model(net.model)
    copy.set_weights(net.model.get_weights())
    fresh = resnet.build(net.arch, **{**net.build_options, "seed": net.build_options.get("seed", 0) +
                                      FRESH_SEED_OFFSET + seed})
    model_input = lab_input(net.heldout.images[image_index])
    if class_index is None:
        class_index = int(np.argmax(net.model(model_input[np.newaxis], training=False)[0]))
    explain = LabCam(copy, layer or resnet.ARCHITECTURES[net.arch].cam_layer)
    trained_cam = explain(model_input, class_index)
    steps = [SanityStep("nothing", trained_cam, rank_correlation(trained_cam, trained_cam))]
    for name, layers in weight_groups(copy):
        for layer_copy in layers:
            layer_copy.set_weights(fresh.get_layer(layer_copy.name).get_weights())
        cam = explain(model_input, class_index)
        steps.append(SanityStep(name, cam, rank_correlation(trained_cam, cam)))
    return steps
