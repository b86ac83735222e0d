"""The Train role (TensorFlow): one gradient-lab run at a time per replica, under this server's Limits
(`resnet.limits`, RESNET_MAX_* read where the replica runs), on a data set the server names ("offline" or "noise"):
a visitor's settings never become a path on the server. The answer is the run's whole document
(`resnet.training.run_document`), as the page's download and the CLI's --json write it.
"""

from __future__ import annotations

import dataclasses
import threading

from resnet.errors import RunRefused

DATA_SETS = ("offline", "noise")  # built in: nothing on the server's disk is named by a visitor
# The settings a client may send, and their types (RunConfig's other fields keep their defaults).
SETTINGS = {"arch": str, "variants": list, "batch_norm": bool, "initializer": str, "seed": int, "batch_size": int,
            "optimizer": str, "learning_rate": float, "steps": int, "data": str, "image_size": int,
            "holdout": float, "lesions": bool, "line_points": int, "slice_side": int, "sanity": bool}


def run_config(settings: dict):
    """The RunConfig `settings` describe, checked against this server's limits; RunRefused in one line otherwise."""
    from resnet.limits import Limits
    from resnet.training import RunConfig, check_config

    if not isinstance(settings, dict):
        raise RunRefused("send the run's settings as a JSON object")
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise RunRefused(f"unknown settings {', '.join(unknown)}; use some of {', '.join(SETTINGS)}")
    values = {}
    for name, value in settings.items():
        kind = SETTINGS[name]
        numeric = kind in (int, float) and isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (isinstance(value, kind) or (kind is float and numeric)) or (kind is int and isinstance(value, bool)):
            raise RunRefused(f"setting {name} must be {kind.__name__}, not {type(value).__name__}")
        values[name] = tuple(value) if kind is list else value
    if values.get("data", "offline") not in DATA_SETS:
        raise RunRefused(f"data must be one of {', '.join(DATA_SETS)} on the network tier")
    config = RunConfig(**values)
    check_config(config, Limits.from_environment())
    return config


class Train:
    """Runs one gradient-lab run at a time; a second while one trains is refused at once (never queued here: Serve
    sends it to another replica when there is one)."""

    def __init__(self):
        self._busy = threading.Lock()

    def run(self, settings: dict) -> dict:
        from resnet.limits import Limits
        from resnet.training import Run, run_document

        config = run_config(settings)
        if not self._busy.acquire(blocking=False):
            raise RunRefused("this training replica is busy with a run; try again in a minute")
        try:
            run = Run(config, Limits.from_environment())
            records = [record for step in run.steps() for record in step]
            document = run_document(config, records, run.stopped, run.trained())
        finally:
            self._busy.release()
        document["config"] = {k: list(v) if isinstance(v, tuple) else v
                              for k, v in dataclasses.asdict(config).items()}
        return document
