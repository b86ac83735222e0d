"""Data sources of the gradient lab: the generated offline set, CIFAR-10 only from the cache, a folder (the command
line's path, or a data set the operator offers under RESNET_DATA_ROOT)."""

from pathlib import Path

import numpy as np
import pytest

from resnet.datasets import (SHAPE_CLASSES, Cifar10, DataUnavailable, ImageFolder, NoiseImages, OfflineShapes,
                             cifar10_cached, data_root, open_data, open_named_data, open_server_folder, random_batch,
                             server_folders)


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
    monkeypatch.setattr("resnet.paths.KERAS_FALLBACK_HOME", tmp_path / "none")
    assert not cifar10_cached()
    with pytest.raises(DataUnavailable, match="CIFAR-10 is not in the keras cache"):
        Cifar10()


def test_cifar10_cache_is_found_where_keras_puts_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "cifar-10-batches-py-target_archive").write_bytes(b"")
    assert cifar10_cached()


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


def test_named_data_never_takes_a_name_for_a_path():
    for spec in ("/proc/self", "/", "/etc", str(Path.home())):
        with pytest.raises(DataUnavailable, match="unknown data source"):
            open_named_data(spec)
    assert open_named_data("offline", 16).image_size == 16


# ---- RESNET_DATA_ROOT: folders the operator offers --------------------------------------------------------------

@pytest.fixture()
def data_root_with_sets(tmp_path, image_folder_factory):
    """root/flowers and root/pets are data sets; root/.hidden is not; a secret folder lies beside the root."""
    root = tmp_path / "root"
    for name in ("flowers", "pets", ".hidden"):
        image_folder_factory(root / name)
    image_folder_factory(tmp_path / "secret")
    return root


def test_the_data_root_is_unset_by_default_and_read_from_the_environment(tmp_path):
    assert data_root({}) is None and data_root({"RESNET_DATA_ROOT": " "}) is None
    assert data_root({"RESNET_DATA_ROOT": str(tmp_path / "." / "x" / "..")}) == tmp_path.resolve()


def test_the_data_root_lists_its_sub_folders_and_opens_one_by_name(data_root_with_sets):
    root = data_root_with_sets
    assert server_folders(root) == ["flowers", "pets"]
    source = open_server_folder(root, "pets", image_size=16)
    assert source.class_names == ("cats", "dogs") and source.name == "pets"
    assert next(source.batches(4, seed=0))[0].shape == (4, 16, 16, 3)


@pytest.mark.parametrize("name", ["..", "../secret", "pets/../../secret", "/etc", "", ".",
                                  "pets/cats", "nowhere"])
def test_a_name_that_is_not_a_listed_data_set_is_refused(data_root_with_sets, name):
    with pytest.raises(DataUnavailable, match="is not one of this server's data sets") as caught:
        open_server_folder(data_root_with_sets, name)
    assert str(data_root_with_sets) not in str(caught.value)  # the server's paths are not shown


def test_a_link_out_of_the_root_is_neither_listed_nor_opened(data_root_with_sets):
    root = data_root_with_sets
    (root / "escape").symlink_to(root.parent / "secret", target_is_directory=True)
    (root / "inside").symlink_to(root / "pets", target_is_directory=True)  # a link that stays inside is fine
    assert server_folders(root) == ["flowers", "inside", "pets"]
    with pytest.raises(DataUnavailable, match="is not one of this server's data sets"):
        open_server_folder(root, "escape")
    assert open_server_folder(root, "inside").class_names == ("cats", "dogs")


@pytest.mark.parametrize("where", ["class", "file"])
def test_a_data_set_with_a_link_out_of_the_root_inside_it_is_refused(data_root_with_sets, where):
    root = data_root_with_sets
    if where == "class":
        (root / "pets" / "secrets").symlink_to(root.parent / "secret" / "cats", target_is_directory=True)
    else:
        (root / "pets" / "cats" / "passwd.png").symlink_to(root.parent / "secret" / "dogs" / "0.png")
    with pytest.raises(DataUnavailable, match="pets: .* leads outside this server's data sets"):
        open_server_folder(root, "pets")
