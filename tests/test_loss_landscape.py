"""The line from the initial to the trained weights and the filter-normalised 2-D slice, checked against Keras'
loss of the same weights on the same held-out images."""

import keras
import numpy as np
import pytest

from resnet.loss_landscape import (filter_norms, filter_normalised_direction, has_filters, line_alphas,
                                   loss_along_line, loss_slice)
from tests.conftest import keras_evaluate


def test_line_alphas_run_beyond_both_ends_and_hold_both_ends():
    alphas = line_alphas(21)
    assert alphas[0] == -0.5 and alphas[-1] == 1.5 and len(alphas) == 21
    assert 0.0 in alphas and 1.0 in alphas
    assert 0.0 in line_alphas(4) and 1.0 in line_alphas(4)  # even where the even spacing misses them


def test_the_lines_ends_are_keras_loss_of_the_initial_and_the_trained_weights(trained_pair):
    for net in trained_pair.values():
        line = {point.alpha: point.loss for point in loss_along_line(net, 5)}
        trained_loss, _ = keras_evaluate(net.model, net.heldout.images, net.heldout.labels)
        initial = keras.models.clone_model(net.model)
        initial.set_weights(net.initial)
        initial_loss, _ = keras_evaluate(initial, net.heldout.images, net.heldout.labels)
        assert line[1.0] == pytest.approx(trained_loss, rel=1e-4)
        assert line[0.0] == pytest.approx(initial_loss, rel=1e-4)
        assert line[0.0] != pytest.approx(line[1.0])  # the nets did move
        assert net.model.get_weights()[0] is not None and net.result.loss == pytest.approx(trained_loss, rel=1e-4)


def test_each_filter_of_a_direction_has_the_norm_of_the_weights_filter(trained_pair):
    kernels = [layer.kernel.numpy() for layer in trained_pair["resnet20"].model.layers if has_filters(layer)]
    direction = filter_normalised_direction(kernels, np.random.default_rng(0))
    assert len(direction) == len(kernels) == 20
    for kernel, d in zip(kernels, direction):
        assert d.shape == kernel.shape
        manual = [np.sqrt(np.sum(d[..., i] ** 2)) for i in range(d.shape[-1])]
        np.testing.assert_allclose(manual, [np.sqrt(np.sum(kernel[..., i] ** 2)) for i in range(kernel.shape[-1])],
                                   rtol=1e-5)
    np.testing.assert_allclose(filter_norms(kernels[0]), np.sqrt(np.sum(kernels[0] ** 2, axis=(0, 1, 2))), rtol=1e-5)


def test_the_slices_centre_is_the_trained_loss_and_the_trained_net_is_left_alone(trained_pair):
    net = trained_pair["plain20"]
    before = [w.copy() for w in net.model.get_weights()]
    grid = loss_slice(net, 3, seed=1)
    trained_loss, _ = keras_evaluate(net.model, net.heldout.images, net.heldout.labels)
    assert grid.loss.shape == (3, 3) and grid.alphas == (-1.0, 0.0, 1.0) == grid.betas
    assert grid.centre == pytest.approx(trained_loss, rel=1e-4)
    assert np.all(np.isfinite(grid.loss)) and np.sum(grid.loss > grid.centre) >= 4  # a step of a whole filter hurts
    for a, b in zip(before, net.model.get_weights()):
        np.testing.assert_array_equal(a, b)
