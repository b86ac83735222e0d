"""Pretrained weights and ImageNet class names.

The ImageNet files are keras.applications' own — same URL, file name and md5 — so one download serves both, and a
file that keras.applications loads loads into our networks. Where the file comes from, in order:

1. `RESNET_WEIGHTS`: the path of the file itself (checked against its md5);
2. `RESNET_WEIGHTS_DIR`: a folder that holds the file under its official name (checked likewise);
3. Keras' cache (`$KERAS_HOME/models`, default `~/.keras/models`: `resnet.paths`), filled by `keras.utils.get_file`
   from `RESNET_WEIGHTS_ORIGIN` (default: the keras.applications bucket; a `file://` folder or a local mirror works
   too), which checks the md5.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from resnet.errors import WeightsUnavailable
from resnet.paths import ASSETS, keras_home

if TYPE_CHECKING:
    import keras

KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"

# keras.applications' md5 of each file: (with the 1000-class top, without it).
MD5 = {
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    "resnet50v2": ("3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    "resnet101v2": ("6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    "resnet152v2": ("a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
}


def file_name(weights_name: str, include_top: bool = True) -> str:
    suffix = "" if include_top else "_notop"
    return f"{weights_name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"


def expected_md5(weights_name: str, include_top: bool = True) -> str:
    return MD5[weights_name][0 if include_top else 1]


def md5_of(path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def how_to_get(weights_name: str, include_top: bool = True) -> str:
    """The one sentence that tells a user how to make `weights_name` available offline."""
    name = file_name(weights_name, include_top)
    return (f"put {name} in {keras_home() / 'models'} (run `make weights` on a connected machine and copy it), "
            f"or set RESNET_WEIGHTS=/path/to/{name} or RESNET_WEIGHTS_DIR=/folder/holding/it")


def imagenet_weights_path(weights_name: str, include_top: bool = True, *, cache_dir: str | None = None,
                          download: bool = True) -> str:
    """The local path of keras.applications' verified ImageNet file `weights_name` (its file stem, a key of `MD5`:
    an architecture's `imagenet_weights`), fetching it into Keras' cache if allowed.

    Raises WeightsUnavailable with a one-line how-to when the file cannot be found, fetched or verified.
    """
    if weights_name not in MD5:
        raise WeightsUnavailable(f"{weights_name} has no published ImageNet weights")
    name, md5 = file_name(weights_name, include_top), expected_md5(weights_name, include_top)

    explicit = os.environ.get("RESNET_WEIGHTS")
    if explicit and Path(explicit).name == name:
        return _verified(Path(explicit), md5, "RESNET_WEIGHTS")
    folder = os.environ.get("RESNET_WEIGHTS_DIR")
    if folder and (Path(folder) / name).is_file():
        return _verified(Path(folder) / name, md5, "RESNET_WEIGHTS_DIR")

    cache_dir = str(cache_dir or keras_home())
    cached = Path(cache_dir) / "models" / name
    if not download:
        if not cached.is_file():
            raise WeightsUnavailable(
                f"ImageNet weights for {weights_name} are not here: {how_to_get(weights_name, include_top)}")
        # Checked here, not by keras' get_file: a process that must not load TensorFlow (the network tier's
        # Answer role) finds its weights this way.
        return _verified(cached, md5, "Keras' cache")
    # get_file falls back to /tmp/.keras when the cache folder does not exist yet: make it.
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    origin = os.environ.get("RESNET_WEIGHTS_ORIGIN", KERAS_ORIGIN).rstrip("/") + "/" + name
    import keras  # here, not at the top: the labels and md5 table are read by processes without TensorFlow

    try:
        return keras.utils.get_file(name, origin, cache_subdir="models", file_hash=md5, cache_dir=cache_dir)
    except ValueError:  # downloaded, but the md5 differs: keras leaves the bad file behind
        cached.unlink(missing_ok=True)
        raise WeightsUnavailable(
            f"refused {name} from {origin}: its md5 is not keras.applications' {md5} (a corrupt or different "
            f"file); {how_to_get(weights_name, include_top)}") from None
    except Exception as exc:  # keras wraps every fetch failure in a bare Exception
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WeightsUnavailable(
            f"ImageNet weights for {weights_name} could not be fetched ({reason}); "
            f"{how_to_get(weights_name, include_top)}") from None


def _verified(path: Path, md5: str, source: str) -> str:
    if not path.is_file():
        raise WeightsUnavailable(f"{source} points at {path}, which does not exist")
    actual = md5_of(path)
    if actual != md5:
        raise WeightsUnavailable(
            f"refused {path} ({source}): its md5 {actual} is not keras.applications' {md5}; re-download the file")
    return str(path)


def load_weights_file(model: keras.Model, path) -> None:
    """Load a weights file into `model`: keras' legacy .h5 (matched layer by layer in order, as keras.applications
    does) or a Keras 3 `.weights.h5` (matched by layer path)."""
    try:
        model.load_weights(os.fspath(path))
    except (ValueError, OSError, KeyError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WeightsUnavailable(f"could not load {path} into {model.name}: {reason}") from None


@lru_cache(maxsize=1)
def class_names() -> tuple[tuple[str, str], ...]:
    """The 1000 ImageNet classes as (WordNet id, label), in the order of the network's outputs."""
    with open(ASSETS / "imagenet_classes.json", encoding="utf-8") as f:
        index = json.load(f)
    return tuple((index[str(i)][0], index[str(i)][1]) for i in range(len(index)))
