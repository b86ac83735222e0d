"""Where the explorer reads and writes on disk: the files it ships, its own cache, and Keras' home.

The folders that depend on the environment are read from it on every call, so a test or a child process that sets a
variable is obeyed at once:

- `RESNET_CACHE_DIR`: the explorer's own cache (drawn diagrams, counted layer tables); else
  `$XDG_CACHE_HOME/resnet-explorer`, else `~/.cache/resnet-explorer`.
- `KERAS_HOME`: Keras' downloads (ImageNet weights under `models/`, CIFAR-10 under `datasets/`); else `~/.keras`,
  as Keras itself reads it.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository: where `python -m resnet` runs from a checkout
ASSETS = ROOT / "assets"
SAMPLES = ASSETS / "samples"  # the photos shipped with the explorer (see assets/README for their sources)
FIRST_SAMPLE = SAMPLES / "cat_chelsea.jpg"  # the photo the Predict page opens on, and the one the bench measures

# Where keras.utils.get_file caches a download when the Keras home is not writable.
KERAS_FALLBACK_HOME = Path("/tmp/.keras")


def cache_root() -> Path:
    """The explorer's own cache folder."""
    explicit = os.environ.get("RESNET_CACHE_DIR")
    if explicit:
        return Path(explicit)
    # The XDG rule: an empty XDG_CACHE_HOME counts as unset.
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "resnet-explorer"


def diagram_cache() -> Path:
    """Where rendered diagrams are kept (`resnet.diagrams`)."""
    return cache_root() / "diagrams"


def table_cache() -> Path:
    """Where per-layer tables are kept (`resnet.table.cached_layer_table`): a page without the network reads them."""
    return cache_root() / "tables"


def keras_home() -> Path:
    """Keras' home: what `keras.utils.get_file` fills when it is not told another folder."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))


def keras_homes() -> tuple[Path, Path]:
    """Every folder a Keras download may have gone to: its home, then the fallback for an unwritable home."""
    return keras_home(), KERAS_FALLBACK_HOME
