"""Where the gradient lab's images come from: generated offline, CIFAR-10 from the keras cache, or a folder.

A folder path is the command line's (the user's own machine). The app names no path a visitor typed: it opens the
named sources (`open_named_data`), an upload (`resnet.uploads`), or a folder the operator offers under
`RESNET_DATA_ROOT` (`server_folders`, `open_server_folder`).

Every source has `class_names`, `image_size` and `batches(batch_size, seed)`: an endless iterator of
`(images, labels)` numpy pairs, images float32 in [0, 1] of shape (batch, size, size, 3), labels int32. The same
seed gives the same batches, so a residual net and its plain twin can be fed identical data.

`hold_out(fraction, seed, most)` sets a share of a source aside before anything trains: `batches` never yields it
again, and it comes back as a `HeldOut`, the images a run's nets are judged on. A source of given images (a folder,
an upload, CIFAR-10) holds out `fraction` of each class, drawn with `seed`; a generated one (offline shapes, noise)
draws images of its own that it never trains on. Either way at most `most` images, so that judging stays cheap.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np

from resnet import paths
from resnet.errors import UserError

Batch = tuple[np.ndarray, np.ndarray]


class DataUnavailable(UserError):
    """A data source that cannot be read here (not cached, not a folder of class sub-folders, no images…)."""


def lab_input(images) -> np.ndarray:
    """Data sources give [0, 1]; the lab's nets see roughly zero-mean, unit-scale inputs."""
    return (np.asarray(images, np.float32) - 0.5) / 0.25


@dataclass(frozen=True)
class HeldOut:
    """Images set aside from a run's data, never trained on: float32 in [0, 1], as `batches` gives them."""

    images: np.ndarray  # (n, size, size, 3)
    labels: np.ndarray  # (n,) int32
    class_names: tuple[str, ...]

    @property
    def counts(self) -> tuple[int, ...]:
        """Held-out images per class, in class order."""
        return tuple(np.bincount(self.labels, minlength=len(self.class_names)).tolist())


def held_out_indices(labels: np.ndarray, fraction: float, seed: int, most: int) -> np.ndarray:
    """Which of `labels`' images to hold out: `fraction` of each class (one at least, where a class has two or more
    images, so that every class is judged), drawn with `seed`, at most `most` // classes of each; sorted."""
    classes = np.unique(labels)
    per_class_most = max(1, most // max(1, len(classes)))
    rng = np.random.default_rng((seed, 0x4E1D))  # a stream of its own: the training order draws from `seed`
    chosen = []
    for label in classes:
        members = np.flatnonzero(labels == label)
        count = min(int(fraction * len(members)) or (1 if len(members) > 1 else 0), per_class_most)
        chosen.append(rng.choice(members, size=count, replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.empty(0, np.int64)


def generated_count(fraction: float, pool: int, classes: int, most: int) -> int:
    """How many images a generated source draws to hold out: `fraction` of its pool, at most `most`, a whole
    number of rounds through the classes (so each class has as many)."""
    return max(classes, min(int(fraction * pool), most) // classes * classes)


# ---------------------------------------------------------------------------------------------------------------
# Offline: ten procedurally drawn pattern classes. Each image gets random colours, scale, phase and position plus
# pixel noise, so a class is a *structure* (orientation, shape, texture), never a colour a net could shortcut on.

SHAPE_CLASSES = ("horizontal stripes", "vertical stripes", "diagonal stripes", "anti-diagonal stripes",
                 "checkerboard", "disc", "ring", "square", "cross", "dots")
OFFLINE_POOL = 4096  # images per epoch; each is redrawn from (seed, index), so nothing is held in memory


def _pattern(label: int, yy: np.ndarray, xx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A {0, 1} mask of class `label` on the unit-square grid (yy, xx)."""
    period = rng.uniform(0.12, 0.3)
    phase = rng.uniform(0, period)
    cy, cx = rng.uniform(0.3, 0.7, size=2)
    radius = rng.uniform(0.15, 0.32)
    stripes = lambda t: ((t + phase) % period) < period / 2  # noqa: E731 - a one-line helper shared by 4 classes
    if label == 0:
        return stripes(yy)
    if label == 1:
        return stripes(xx)
    if label == 2:
        return stripes((xx + yy) / np.sqrt(2))
    if label == 3:
        return stripes((xx - yy) / np.sqrt(2))
    if label == 4:
        return stripes(xx) ^ stripes(yy)
    distance = np.hypot(yy - cy, xx - cx)
    if label == 5:
        return distance < radius
    if label == 6:
        return np.abs(distance - radius) < radius * 0.3
    if label == 7:
        return np.maximum(np.abs(yy - cy), np.abs(xx - cx)) < radius * 0.9
    if label == 8:
        arm = radius * 0.3
        inside = np.maximum(np.abs(yy - cy), np.abs(xx - cx)) < radius * 1.2
        return inside & ((np.abs(yy - cy) < arm) | (np.abs(xx - cx) < arm))
    # dots: a lattice of small discs
    fy, fx = ((yy + phase) % period) - period / 2, ((xx + phase) % period) - period / 2
    return np.hypot(fy, fx) < period * 0.28


def shape_image(seed: int, index: int, image_size: int) -> Batch:
    """Image `index` of the offline set drawn with `seed`: (size, size, 3) float32 in [0, 1], and its label."""
    label = index % len(SHAPE_CLASSES)
    rng = np.random.default_rng((seed, index))
    grid = (np.arange(image_size, dtype=np.float32) + 0.5) / image_size
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    mask = _pattern(label, yy, xx, rng).astype(np.float32)[..., None]
    foreground, background = rng.uniform(0, 1, size=(2, 3)).astype(np.float32)
    while np.abs(foreground - background).max() < 0.3:  # keep the pattern visible under the noise
        foreground = rng.uniform(0, 1, size=3).astype(np.float32)
    image = background + (foreground - background) * mask
    image += rng.normal(0, 0.08, size=image.shape).astype(np.float32)
    return np.clip(image, 0, 1), np.int32(label)


class OfflineShapes:
    """Ten pattern classes generated on the fly; needs nothing downloaded and is the same on every machine."""

    name = "offline"
    class_names = SHAPE_CLASSES

    def __init__(self, image_size: int = 32, data_seed: int = 0):
        self.image_size = image_size
        self.data_seed = data_seed  # which 4096 images make up the set; `batches(seed=…)` picks their order

    def hold_out(self, fraction: float, seed: int, most: int) -> HeldOut:
        """Images OFFLINE_POOL, OFFLINE_POOL + 1, … of the same drawing: never in an epoch, so never trained on.
        (`seed` orders training; the held-out images are the same for every run of one data set.)"""
        count = generated_count(fraction, OFFLINE_POOL, len(self.class_names), most)
        pairs = [shape_image(self.data_seed, OFFLINE_POOL + i, self.image_size) for i in range(count)]
        return HeldOut(np.stack([p[0] for p in pairs]), np.array([p[1] for p in pairs], np.int32), self.class_names)

    def batches(self, batch_size: int, seed: int) -> Iterator[Batch]:
        order = np.random.default_rng(seed)
        while True:
            epoch = order.permutation(OFFLINE_POOL)
            for start in range(0, OFFLINE_POOL - batch_size + 1, batch_size):
                pairs = [shape_image(self.data_seed, int(i), self.image_size) for i in epoch[start:start + batch_size]]
                yield np.stack([p[0] for p in pairs]), np.array([p[1] for p in pairs], dtype=np.int32)


# ---------------------------------------------------------------------------------------------------------------
# CIFAR-10: only from the keras cache. `keras.datasets.cifar10.load_data` would try to download, which on an
# offline classroom server hangs until the network times out, so we look for its archive first.

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_CIFAR10_ARCHIVE = "cifar-10-batches-py-target_archive"  # the name keras 3's get_file stores the download under


def cifar10_cached() -> bool:
    """Whether keras has the CIFAR-10 archive in its cache (its home or its fallback: `resnet.paths`)."""
    return any((home / "datasets" / _CIFAR10_ARCHIVE).is_file() for home in paths.keras_homes())


@lru_cache(maxsize=1)
def _cifar10_train() -> Batch:
    import keras

    (images, labels), _ = keras.datasets.cifar10.load_data()
    return images, labels.reshape(-1).astype(np.int32)


class Cifar10:
    name = "cifar10"
    class_names = CIFAR10_CLASSES

    def __init__(self, image_size: int = 32):
        if not cifar10_cached():
            raise DataUnavailable("CIFAR-10 is not in the keras cache and this server cannot download it; use the "
                                  "offline data or a folder of images (or copy the archive into ~/.keras/datasets)")
        self.image_size = image_size
        self.images, self.labels = _cifar10_train()
        self._train = np.arange(len(self.labels))

    def hold_out(self, fraction: float, seed: int, most: int) -> HeldOut:
        held = held_out_indices(self.labels, fraction, seed, most)
        self._train = np.setdiff1d(np.arange(len(self.labels)), held)
        return HeldOut(_resized(self.images[held].astype(np.float32) / 255.0, self.image_size), self.labels[held],
                       self.class_names)

    def batches(self, batch_size: int, seed: int) -> Iterator[Batch]:
        order = np.random.default_rng(seed)
        while True:
            epoch = self._train[order.permutation(len(self._train))]
            for start in range(0, len(epoch) - batch_size + 1, batch_size):
                chosen = epoch[start:start + batch_size]
                yield _resized(self.images[chosen].astype(np.float32) / 255.0, self.image_size), self.labels[chosen]


def _resized(images: np.ndarray, image_size: int) -> np.ndarray:
    if images.shape[1] == image_size and images.shape[2] == image_size:
        return images
    import tensorflow as tf

    return tf.image.resize(images, (image_size, image_size)).numpy()


# ---------------------------------------------------------------------------------------------------------------
# A folder: one sub-folder per class, read by keras.utils.image_dataset_from_directory.

class ImageFolder:
    def __init__(self, directory: str | os.PathLike, image_size: int = 32, *, label: str | None = None):
        """`label` names the folder in messages instead of its path (the app does not show a server's paths)."""
        import keras

        path = Path(directory).expanduser()
        self.name = label or str(path)
        if not path.is_dir():
            raise DataUnavailable(f"{self.name} is not a folder; give a folder with one sub-folder of images per class")
        if len([child for child in path.iterdir() if child.is_dir()]) < 2:
            raise DataUnavailable(f"{self.name} needs at least two sub-folders (one per class) holding images")
        self.image_size = image_size
        try:
            self._dataset = keras.utils.image_dataset_from_directory(
                path, label_mode="int", image_size=(image_size, image_size), batch_size=None, shuffle=False,
                verbose=False)
        except ValueError as exc:  # keras says "No images found in directory <path>" and the like
            # keras' words name the path: the CLI's user may read them, a page's visitor may not
            why = str(exc).splitlines()[0] if label is None else "no image files in its class folders"
            raise DataUnavailable(f"cannot read images from {self.name}: {why}") from None
        self.class_names = tuple(self._dataset.class_names)
        # Unshuffled, the data set lists its files in this order; each file's class is the folder under `path`.
        self.file_paths = tuple(self._dataset.file_paths)
        self.labels = np.array([self.class_names.index(Path(file).relative_to(path).parts[0])
                                for file in self.file_paths], np.int32)
        self._train = self._dataset

    def hold_out(self, fraction: float, seed: int, most: int) -> HeldOut:
        import tensorflow as tf

        held = held_out_indices(self.labels, fraction, seed, most)
        is_held = tf.constant(np.isin(np.arange(len(self.labels)), held))
        self._train = (self._dataset.enumerate().filter(lambda i, pair: ~tf.gather(is_held, i))
                       .map(lambda i, pair: pair))
        picked = self._dataset.enumerate().filter(lambda i, pair: tf.gather(is_held, i)).map(lambda i, pair: pair)
        pairs = list(picked.as_numpy_iterator())
        images = np.stack([image for image, _ in pairs]) / 255.0 if pairs else np.empty((0, *[self.image_size] * 2, 3))
        return HeldOut(images.astype(np.float32), np.array([label for _, label in pairs], np.int32),
                       self.class_names)

    def batches(self, batch_size: int, seed: int) -> Iterator[Batch]:
        dataset = (self._train.shuffle(4096, seed=seed, reshuffle_each_iteration=True).repeat()
                   .batch(batch_size, drop_remainder=True))
        for images, labels in dataset.as_numpy_iterator():
            yield (images / 255.0).astype(np.float32), labels.astype(np.int32)


# ---------------------------------------------------------------------------------------------------------------
# Folders the operator offers: RESNET_DATA_ROOT names a folder whose sub-folders are data sets. The page lists
# them; a name that resolves anywhere else (`..`, a link out of the root) is refused, down to every file inside.

DATA_ROOT_VARIABLE = "RESNET_DATA_ROOT"


def data_root(environ=None) -> Path | None:
    """The folder of data sets this server offers, or None (the default: it offers none)."""
    value = (os.environ if environ is None else environ).get(DATA_ROOT_VARIABLE, "").strip()
    return Path(value).expanduser().resolve() if value else None


def server_folders(root: Path) -> list[str]:
    """The data sets under `root`: its sub-folders that stay inside it once links are followed; hidden ones left out."""
    if not root.is_dir():
        return []
    return sorted(child.name for child in root.iterdir()
                  if not child.name.startswith(".") and child.is_dir() and _inside(child, root))


def open_server_folder(root: Path, name: str, image_size: int = 32) -> ImageFolder:
    """Data set `name` of `root`, refused unless it, and everything in it, resolves inside `root`."""
    root = root.resolve()
    folder = root / name
    if name in ("", ".", "..") or Path(name).name != name or not _inside(folder, root) or not folder.is_dir():
        raise DataUnavailable(f"{name!r} is not one of this server's data sets; pick one from the list")
    for path in _walk(folder):
        if not _inside(path, root):
            raise DataUnavailable(f"{name}: {path.relative_to(folder)} leads outside this server's data sets; "
                                  "the data set is refused (an administrator can replace the link with the files)")
    return ImageFolder(folder, image_size, label=name)


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def _walk(folder: Path) -> Iterator[Path]:
    """Everything under `folder`, links included (as image_dataset_from_directory would meet them), not followed."""
    for directory, folders, files in os.walk(folder):
        for entry in folders + files:
            yield Path(directory) / entry


class NoiseImages:
    """Gaussian noise with random labels: nothing to learn, but the probe the initialisation figures are measured on.

    Batch k is `random_batch(…, seed + k)` mapped into [0, 1]'s scale (centred by the trainer back to N(0, 1)).
    """

    name = "noise"
    class_names = tuple(f"class {i}" for i in range(10))

    def __init__(self, image_size: int = 32):
        self.image_size = image_size

    def hold_out(self, fraction: float, seed: int, most: int) -> HeldOut:
        """Noise of a stream of its own (the batches' seeds are plain integers, this one a pair): nothing to learn,
        so the held-out accuracy is chance, whatever the training loss did."""
        count = generated_count(fraction, OFFLINE_POOL, len(self.class_names), most)
        rng = np.random.default_rng((seed, 0x4E1D))
        images = rng.normal(0, 1, size=(count, self.image_size, self.image_size, 3)).astype(np.float32)
        labels = rng.integers(0, len(self.class_names), size=count).astype(np.int32)
        return HeldOut(0.5 + 0.25 * images, labels, self.class_names)

    def batches(self, batch_size: int, seed: int) -> Iterator[Batch]:
        k = 0
        while True:
            images, labels = random_batch(batch_size, self.image_size, len(self.class_names), seed + k)
            yield 0.5 + 0.25 * images, labels
            k += 1


NAMED_SOURCES = ("offline", "noise", "cifar10")


def open_named_data(spec: str, image_size: int = 32):
    """`offline`, `noise` or `cifar10` → a data source; anything else is refused, never taken for a path."""
    if spec == "noise":
        return NoiseImages(image_size)
    if spec == "offline":
        return OfflineShapes(image_size)
    if spec == "cifar10":
        return Cifar10(image_size)
    raise DataUnavailable(f"unknown data source {spec!r}; choose one of {', '.join(NAMED_SOURCES)}")


def open_data(spec: str, image_size: int = 32):
    """`offline`, `noise`, `cifar10`, or a folder path (the command line's) → a data source of side `image_size`."""
    if spec in NAMED_SOURCES:
        return open_named_data(spec, image_size)
    return ImageFolder(spec, image_size)


def random_batch(batch_size: int = 64, image_size: int = 32, classes: int = 10, seed: int = 0) -> Batch:
    """Gaussian-noise images and uniform labels: the fixed probe batch for gradient norms at initialisation."""
    rng = np.random.default_rng(seed)
    images = rng.normal(0, 1, size=(batch_size, image_size, image_size, 3)).astype(np.float32)
    return images, rng.integers(0, classes, size=batch_size).astype(np.int32)
