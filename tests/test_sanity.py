"""Adebayo et al.'s cascading randomisation on a trained lab net: nothing randomised leaves the Grad-CAM as
resnet.inference computes it for the trained net; everything randomised leaves little of its ranking."""

import numpy as np
import pytest

from resnet.datasets import lab_input
from resnet.explaining import grad_cam
from resnet.sanity import cascading_randomisation, rank_correlation, weight_groups


def spearman_without_ties(a, b):
    """The textbook formula, valid when no two values tie: 1 − 6 Σ d² / (n (n² − 1))."""
    d = np.argsort(np.argsort(a)) - np.argsort(np.argsort(b))
    n = len(a)
    return 1 - 6 * np.sum(d ** 2) / (n * (n ** 2 - 1))


def test_rank_correlation_is_spearmans():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=50), rng.normal(size=50)
    assert rank_correlation(a, b) == pytest.approx(spearman_without_ties(a, b))
    assert rank_correlation(a, a ** 3) == pytest.approx(1.0) and rank_correlation(a, -a) == pytest.approx(-1.0)
    assert rank_correlation(np.array([1, 2, 2, 3]), np.array([1, 2, 2, 3])) == pytest.approx(1.0)  # ties
    assert np.isnan(rank_correlation(np.zeros(4), a[:4]))  # a flat map ranks nothing


def test_the_groups_go_top_down_from_the_classifier_to_the_stem(trained_pair):
    names = [name for name, _ in weight_groups(trained_pair["resnet20"].model)]
    assert names == ["head", *[f"conv{s}_block{b}" for s in (4, 3, 2) for b in (3, 2, 1)], "stem"]


@pytest.mark.parametrize("name", ["resnet20", "plain20"])
def test_nothing_randomised_is_the_trained_map_and_everything_randomised_keeps_little_of_it(trained_pair, name):
    net = trained_pair[name]
    before = [w.copy() for w in net.model.get_weights()]
    steps = cascading_randomisation(net, 0, seed=0, class_index=int(net.heldout.labels[0]))
    assert [s.randomised for s in steps][:2] == ["nothing", "head"] and steps[-1].randomised == "stem"
    expected = grad_cam(net.model, lab_input(net.heldout.images[0]), int(net.heldout.labels[0]))
    np.testing.assert_allclose(steps[0].cam, expected, atol=1e-5)
    assert steps[0].rank_correlation == pytest.approx(1.0)
    assert np.isfinite(steps[-1].rank_correlation) and abs(steps[-1].rank_correlation) < 0.5
    for a, b in zip(before, net.model.get_weights()):  # all on a copy
        np.testing.assert_array_equal(a, b)
