"""Bounds on training runs and on the images a visitor uploads for them, kept in one place so one user cannot starve
a classroom server.

`Limits` holds every number (defaults below, each overridable by an environment variable read once at start-up);
`RunRegistry` is the server-wide gate: at most `max_concurrent_runs` runs at a time, and one per session. Both refuse
with `RunRefused` and a message that says which bound was hit and what to do.
"""

from __future__ import annotations

import dataclasses
import threading

from resnet import settings
from resnet.errors import RunRefused
from resnet.settings import check_positive

# Environment variable -> Limits field. Kept beside the dataclass so the two cannot drift apart.
ENVIRONMENT = {
    "RESNET_MAX_STEPS": "max_steps",
    "RESNET_MAX_BATCH": "max_batch",
    "RESNET_MAX_IMAGE_SIZE": "max_image_size",
    "RESNET_MAX_RUN_SECONDS": "max_run_seconds",
    "RESNET_MAX_CONCURRENT_RUNS": "max_concurrent_runs",
    "RESNET_MAX_UPLOAD_FILES": "max_upload_files",
    "RESNET_MAX_UPLOAD_TOTAL_MB": "max_upload_total_mb",
    "RESNET_MAX_UPLOAD_MEGAPIXELS": "max_upload_megapixels",
    "RESNET_MAX_CLASSES": "max_classes",
    "RESNET_MAX_HELDOUT_IMAGES": "max_heldout_images",
    "RESNET_MAX_LINE_POINTS": "max_line_points",
    "RESNET_MAX_SLICE_SIDE": "max_slice_side",
}


@dataclasses.dataclass(frozen=True)
class Limits:
    max_steps: int = 300
    max_batch: int = 128
    max_image_size: int = 128
    max_run_seconds: float = 900.0  # wall time of one run (both nets); the run stops there and keeps its records
    max_concurrent_runs: int = 2  # server-wide; each run already keeps 2 CPU cores busy
    # One upload (a folder or a .zip) for the gradient lab. Streamlit bounds each file (server.maxUploadSize), not
    # their number nor what a zip holds once inflated; these bound the rest. Each image is also held to the Predict
    # page's per-image guards (resnet.images: bytes, megapixels, sides).
    max_upload_files: int = 1000  # files in the folder, or entries in the zip
    max_upload_total_mb: int = 200  # bytes of all files together, counted inflated for a zip
    max_upload_megapixels: int = 1000  # pixels of all images together: what bounds the time spent decoding them
    max_classes: int = 100  # class folders of a data set (the width of the classifier)
    # What a run measures once it has trained, each a number of forward passes over the held-out images: every
    # lesion, every point of the line and of the 2-D slice is one. The held-out share is at most this many images.
    max_heldout_images: int = 200
    max_line_points: int = 41  # points on the line from the initial to the trained weights
    max_slice_side: int = 9  # the 2-D slice is a side × side grid: 81 passes per net at most

    def __post_init__(self):
        check_positive(self, "limit")

    @classmethod
    def from_environment(cls, environ=None) -> Limits:
        """Defaults, with any `RESNET_MAX_*` variable in `environ` (default: os.environ) taking their place."""
        return settings.from_environment(cls, ENVIRONMENT, environ, RunRefused)

    def check(self, *, steps: int, batch: int, image_size: int) -> None:
        """Refuse a run whose size is over a limit (or not a sensible size at all)."""
        if steps < 0 or batch < 1 or image_size < 8:
            raise RunRefused(f"steps must be ≥ 0, batch ≥ 1 and image size ≥ 8 (got {steps}, {batch}, {image_size})")
        for value, bound, what, variable in (
            (steps, self.max_steps, "steps", "RESNET_MAX_STEPS"),
            (batch, self.max_batch, "batch size", "RESNET_MAX_BATCH"),
            (image_size, self.max_image_size, "image size", "RESNET_MAX_IMAGE_SIZE"),
        ):
            if value > bound:
                raise RunRefused(f"{what} {value} is over this server's limit of {bound}; pick ≤ {bound} "
                                 f"(an administrator can raise it with {variable})")


    def check_measures(self, *, holdout: float, line_points: int, slice_side: int) -> None:
        """Refuse what a run would measure after training when it is not a sensible size or over a limit."""
        if not 0 < holdout <= 0.5:
            raise RunRefused(f"the held-out share must be above 0 and at most 0.5, not {holdout}")
        if line_points and not 3 <= line_points <= self.max_line_points:
            raise RunRefused(f"the line takes 3 to {self.max_line_points} points (this server's limit, "
                             f"RESNET_MAX_LINE_POINTS), or 0 for none; not {line_points}")
        if slice_side and not (3 <= slice_side <= self.max_slice_side and slice_side % 2):
            raise RunRefused(f"the 2-D slice's side must be odd (its centre is the trained net), 3 to "
                             f"{self.max_slice_side} (RESNET_MAX_SLICE_SIDE), or 0 for none; not {slice_side}")

    def check_classes(self, count: int) -> None:
        """Refuse a data set with more class folders than this server trains on."""
        if count > self.max_classes:
            raise RunRefused(f"{count} classes is over this server's limit of {self.max_classes}; use fewer class "
                             "folders (an administrator can raise it with RESNET_MAX_CLASSES)")


class RunRegistry:
    """Who is training right now: a server-wide cap on concurrent runs and at most one run per session key."""

    def __init__(self, max_concurrent_runs: int):
        self.capacity = max_concurrent_runs
        self._lock = threading.Lock()
        self._sessions: set[str] = set()

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._sessions)

    def acquire(self, session_key: str) -> None:
        """Take a run slot for `session_key`; refuse at once (never queue) when none is free."""
        with self._lock:
            if session_key in self._sessions:
                raise RunRefused("this session already has a run going; stop it or wait for it to finish")
            if len(self._sessions) >= self.capacity:
                raise RunRefused(f"the server is busy: {self.capacity} run(s) going already (the limit); "
                                 "try again in a minute")
            self._sessions.add(session_key)

    def release(self, session_key: str) -> None:
        with self._lock:
            self._sessions.discard(session_key)
