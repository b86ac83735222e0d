"""Our networks are keras.applications' networks: same layers, same parameters, same answers.

Each pair gets the same arbitrary weights (BatchNorm moving statistics included), once copied tensor by tensor
and once through the same legacy .h5 file; the softmax outputs must agree to 1e-5.
"""

import keras
import numpy as np
import pytest

import resnet
from tests.conftest import randomise, save_legacy_h5

PAIRS = {
    "resnet50": keras.applications.ResNet50,
    "resnet101": keras.applications.ResNet101,
    "resnet152": keras.applications.ResNet152,
    "resnet50v2": keras.applications.ResNet50V2,
}
SHAPE = (64, 64, 3)  # any size ≥ 32 builds the same layers; small inputs keep the suite quick


def auto_named(name):
    # keras.applications leaves its input and V2's strided 1×1 max-pools to Keras' counters; we name them.
    return name.startswith(("input_layer", "max_pooling2d"))


@pytest.fixture(scope="module", params=[(n, top) for n in PAIRS for top in (True, False)],
                ids=lambda p: f"{p[0]}-{'top' if p[1] else 'notop'}")
def pair(request):
    name, include_top = request.param
    theirs = randomise(PAIRS[name](weights=None, include_top=include_top, input_shape=SHAPE), seed=11)
    ours = resnet.build(name, include_top=include_top, input_shape=SHAPE)
    return name, include_top, ours, theirs


def test_same_layers_in_the_same_order_with_the_same_shapes(pair):
    _, _, ours, theirs = pair
    assert len(ours.layers) == len(theirs.layers)
    for a, b in zip(ours.layers, theirs.layers):
        assert type(a) is type(b) or auto_named(b.name), (a.name, b.name)
        assert a.name == b.name or auto_named(b.name)
        assert tuple(a.output.shape) == tuple(b.output.shape), a.name
        assert [tuple(w.shape) for w in a.weights] == [tuple(w.shape) for w in b.weights], a.name
    assert ours.count_params() == theirs.count_params()


def test_copied_weights_give_the_same_outputs(pair, images):
    name, include_top, ours, theirs = pair
    ours.set_weights(theirs.get_weights())
    expected, actual = theirs(images, training=False).numpy(), ours(images, training=False).numpy()
    if include_top:
        # a peaked softmax, not a one-hot one: agreement is neither that of ~1/1000s nor that of 0s and a 1
        assert 0.05 < expected.max() < 0.999
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", ["resnet50", "resnet50v2"])
@pytest.mark.parametrize("include_top", [True, False])
def test_the_same_h5_file_loads_into_both(name, include_top, tmp_path, images):
    theirs = randomise(PAIRS[name](weights=None, include_top=include_top, input_shape=SHAPE), seed=5)
    path = save_legacy_h5(theirs, tmp_path / f"{name}.h5")
    fresh = PAIRS[name](weights=str(path), include_top=include_top, input_shape=SHAPE)
    ours = resnet.build(name, weights=str(path), include_top=include_top, input_shape=SHAPE)
    expected = fresh(images, training=False).numpy()
    np.testing.assert_allclose(ours(images, training=False).numpy(), expected, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(expected, theirs(images, training=False).numpy())


def test_the_official_file_layout_loads_at_full_size(official_resnet50_h5):
    reference = keras.applications.ResNet50(weights=str(official_resnet50_h5))
    ours = resnet.build("resnet50", weights=str(official_resnet50_h5))
    x = np.random.default_rng(2).normal(0, 50, (1, 224, 224, 3)).astype("float32")
    expected = reference(x, training=False).numpy()
    np.testing.assert_allclose(ours(x, training=False).numpy(), expected, rtol=0, atol=1e-5)
    assert 0.05 < expected.max() < 0.999
