"""Data sources of the gradient lab: the generated offline set, CIFAR-10 only from the cache, the user's folder."""

import numpy as np
import pytest
from PIL import Image

from resnet.datasets import (SHAPE_CLASSES, Cifar10, DataUnavailable, ImageFolder, NoiseImages, OfflineShapes,
                             cifar10_cached, open_data, random_batch)


def take(source, batch_size, seed, n):
    batches = source.batches(batch_size, seed)
    return [next(batches) for _ in range(n)]


def test_offline_batches_have_the_requested_shape_and_range():
    (images, labels), = take(OfflineShapes(image_size=48), 16, seed=0, n=1)
    assert images.shape == (16, 48, 48, 3) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert labels.dtype == np.int32 and set(labels) <= set(range(10))
    assert len(OfflineShapes.class_names) == 10


def test_offline_data_is_deterministic_by_seed():
    first, again = take(OfflineShapes(), 8, seed=3, n=2), take(OfflineShapes(), 8, seed=3, n=2)
    other = take(OfflineShapes(), 8, seed=4, n=1)
    for (a, la), (b, lb) in zip(first, again):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(la, lb)
    assert not np.array_equal(first[0][0], other[0][0])


def test_offline_classes_are_balanced_over_an_epoch():
    labels = np.concatenate([labels for _, labels in take(OfflineShapes(16), 512, seed=0, n=8)])
    assert len(labels) == 4096  # one whole epoch of the offline pool
    assert np.ptp(np.bincount(labels, minlength=10)) <= 1


def test_offline_classes_differ_in_structure_not_colour():
    """A class is told by its pattern: orientation-sensitive filters separate stripes, colour means do not."""
    source = OfflineShapes(32)
    images, labels = next(source.batches(400, seed=0))
    vertical_edges = np.abs(np.diff(images, axis=2)).mean(axis=(1, 2, 3))  # large for vertical stripes
    horizontal_edges = np.abs(np.diff(images, axis=1)).mean(axis=(1, 2, 3))  # large for horizontal stripes
    orientation = vertical_edges - horizontal_edges
    horizontal, vertical = SHAPE_CLASSES.index("horizontal stripes"), SHAPE_CLASSES.index("vertical stripes")
    assert orientation[labels == vertical].min() > 0 > orientation[labels == horizontal].max()
    mean_colour = images.mean(axis=(1, 2))
    assert np.abs(mean_colour[labels == vertical].mean(0) - mean_colour[labels == horizontal].mean(0)).max() < 0.1


def test_noise_source_centres_to_the_probe_batch():
    images, labels = next(NoiseImages(32).batches(16, seed=0))
    probe_images, probe_labels = random_batch(16, 32, 10, seed=0)
    np.testing.assert_allclose((images - 0.5) / 0.25, probe_images, atol=1e-5)
    np.testing.assert_array_equal(labels, probe_labels)


def test_cifar10_is_refused_offline_without_touching_the_network(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr("resnet.datasets._CIFAR10_HOMES_FALLBACK", str(tmp_path / "none"))
    assert not cifar10_cached()
    with pytest.raises(DataUnavailable, match="CIFAR-10 is not in the keras cache"):
        Cifar10()


def test_cifar10_cache_is_found_where_keras_puts_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "cifar-10-batches-py-target_archive").write_bytes(b"")
    assert cifar10_cached()


@pytest.fixture()
def image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for name, colour in (("cats", (200, 40, 40)), ("dogs", (40, 40, 200))):
        (tmp_path / name).mkdir()
        for i in range(5):
            pixels = np.clip(np.array(colour) + rng.normal(0, 10, (20, 24, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / name / f"{i}.png")
    return tmp_path


def test_a_folder_of_class_sub_folders_gives_batches_of_the_requested_size(image_folder):
    source = open_data(str(image_folder), image_size=16)
    assert source.class_names == ("cats", "dogs")
    images, labels = next(source.batches(4, seed=0))
    assert images.shape == (4, 16, 16, 3) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    red_minus_blue = images[..., 0].mean(axis=(1, 2)) - images[..., 2].mean(axis=(1, 2))
    np.testing.assert_array_equal(red_minus_blue > 0, labels == 0)  # the labels belong to their images


@pytest.mark.parametrize("layout, message", [
    ("missing", "is not a folder"),
    ("one_class", "needs at least two sub-folders"),
    ("no_images", "cannot read images from"),
])
def test_bad_folders_are_refused_in_one_line(tmp_path, layout, message):
    if layout == "one_class":
        (tmp_path / "only").mkdir()
    if layout == "no_images":
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            (tmp_path / name / "notes.txt").write_text("not an image")
    folder = tmp_path / "nowhere" if layout == "missing" else tmp_path
    with pytest.raises(DataUnavailable, match=message) as caught:
        ImageFolder(folder)
    assert "\n" not in str(caught.value)
