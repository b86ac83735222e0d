"""The held-out share: drawn per class with the run's seed, never trained on, bounded; and the numbers a trained
net gets on it, checked against Keras' own evaluate on the same images."""

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from resnet.datasets import OFFLINE_POOL, ImageFolder, OfflineShapes, held_out_indices
from resnet.heldout import evaluate
from resnet.limits import Limits
from resnet.uploads import open_upload
from tests.conftest import keras_evaluate


def distinct_pets(per_class=8) -> bytes:
    """A zip of two classes whose every image is one flat grey of its own: an image is known by its value."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for c, name in enumerate(("cats", "dogs")):
            for i in range(per_class):
                picture = io.BytesIO()
                Image.fromarray(np.full((12, 12, 3), 10 * (per_class * c + i) + 5, np.uint8)).save(picture, "PNG")
                archive.writestr(f"pets/{name}/{i}.png", picture.getvalue())
    return out.getvalue()


def greys(images) -> set:
    return {int(round(float(image.mean()) * 255)) for image in images}


def test_an_upload_holds_out_a_share_of_each_class_with_its_seed_and_never_trains_on_it():
    data = open_upload([("pets.zip", distinct_pets())], 16, Limits())
    heldout = data.hold_out(0.25, seed=3, most=200)
    assert heldout.counts == (2, 2) and heldout.class_names == ("cats", "dogs")
    held = greys(heldout.images)
    batches = data.batches(4, seed=0)
    seen = set().union(*(greys(next(batches)[0]) for _ in range(40)))
    assert seen.isdisjoint(held) and len(seen) == 12  # every other image is trained on
    again = open_upload([("pets.zip", distinct_pets())], 16, Limits()).hold_out(0.25, seed=3, most=200)
    np.testing.assert_array_equal(again.images, heldout.images)
    other = open_upload([("pets.zip", distinct_pets())], 16, Limits()).hold_out(0.25, seed=4, most=200)
    assert greys(other.images) != held


def test_a_folder_holds_out_per_class_and_trains_on_the_rest(image_folder):
    data = ImageFolder(image_folder, 16)
    heldout = data.hold_out(0.25, seed=0, most=200)
    assert heldout.counts == (1, 1)
    batches = data.batches(4, seed=0)
    for _ in range(10):
        images, _ = next(batches)
        for picture in heldout.images:
            assert not any(np.allclose(picture, image) for image in images)


def test_the_offline_shapes_draw_held_out_images_of_their_own_balanced_and_bounded():
    heldout = OfflineShapes(32).hold_out(0.25, seed=0, most=200)
    assert heldout.counts == (20,) * 10  # 0.25 of 4096 is over the bound: 200, the same for every class
    assert OfflineShapes(32).hold_out(0.01, seed=0, most=200).counts == (4,) * 10  # 40 of the pool's 4096
    # drawn past the pool's end, so no epoch (a permutation of the pool) ever holds them
    from resnet.datasets import shape_image
    np.testing.assert_array_equal(heldout.images[0], shape_image(0, OFFLINE_POOL, 32)[0])


@pytest.mark.parametrize("most, expected", [(200, [2, 2, 1]), (3, [1, 1, 1])])
def test_held_out_indices_take_the_share_of_each_class_and_at_least_one(most, expected):
    labels = np.array([0] * 9 + [1] * 8 + [2] * 2)
    chosen = held_out_indices(labels, 0.25, seed=0, most=most)
    assert np.bincount(labels[chosen]).tolist() == expected
    assert len(set(chosen)) == len(chosen)


def test_confusion_rows_are_the_held_out_counts_and_its_trace_over_its_sum_is_keras_accuracy(trained_pair):
    for net in trained_pair.values():
        result = net.result
        assert result.confusion.sum(axis=1).tolist() == list(net.heldout.counts) == [4] * 10
        assert result.accuracy == np.trace(result.confusion) / result.confusion.sum()
        loss, accuracy = keras_evaluate(net.model, net.heldout.images, net.heldout.labels)
        assert result.accuracy == pytest.approx(accuracy, abs=1e-6)
        assert result.loss == pytest.approx(loss, rel=1e-4)
        # each cell holds its images: the images of class t the net answered as p
        for t in range(10):
            for p in range(10):
                assert len(result.cell(net.heldout.labels, t, p)) == result.confusion[t, p]
        assert evaluate(net.model, net.heldout).accuracy == result.accuracy  # judging leaves the net as it was


def test_a_class_with_nothing_held_out_has_no_accuracy_and_its_json_says_null(trained_pair):
    from resnet.datasets import HeldOut

    net = trained_pair["resnet20"]
    only_first = net.heldout.labels == 0
    result = evaluate(net.model, HeldOut(net.heldout.images[only_first], net.heldout.labels[only_first],
                                         net.heldout.class_names))
    assert result.counts == (4,) + (0,) * 9
    document = result.to_dict()
    assert document["class_accuracy"][1:] == [None] * 9 and document["class_accuracy"][0] == result.accuracy
