"""Run limits: one dataclass of bounds, overridable from the environment, and the server-wide run registry."""

import functools
import threading

import pytest

from resnet.errors import RunRefused
from resnet.limits import Limits, RunRegistry
from tests.conftest import run_together


def test_environment_variables_override_the_defaults():
    limits = Limits.from_environment({"RESNET_MAX_STEPS": "12", "RESNET_MAX_RUN_SECONDS": "2.5"})
    assert (limits.max_steps, limits.max_run_seconds) == (12, 2.5)
    assert limits.max_batch == Limits().max_batch


def test_upload_and_class_limits_have_their_own_variables():
    limits = Limits.from_environment({"RESNET_MAX_UPLOAD_FILES": "50", "RESNET_MAX_UPLOAD_TOTAL_MB": "10",
                                      "RESNET_MAX_UPLOAD_MEGAPIXELS": "20", "RESNET_MAX_CLASSES": "3"})
    assert (limits.max_upload_files, limits.max_upload_total_mb, limits.max_upload_megapixels,
            limits.max_classes) == (50, 10, 20, 3)
    limits.check_classes(3)
    with pytest.raises(RunRefused, match="4 classes is over this server's limit of 3"):
        limits.check_classes(4)
    with pytest.raises(ValueError, match="max_upload_files must be positive"):
        Limits(max_upload_files=0)


def test_a_malformed_environment_variable_is_named():
    with pytest.raises(RunRefused, match="RESNET_MAX_BATCH='lots' is not a whole number"):
        Limits.from_environment({"RESNET_MAX_BATCH": "lots"})


def test_sizes_over_a_limit_are_refused_and_the_message_says_which():
    limits = Limits(max_steps=10, max_batch=16, max_image_size=64)
    limits.check(steps=10, batch=16, image_size=64)
    with pytest.raises(RunRefused, match="steps 11 is over this server's limit of 10.*RESNET_MAX_STEPS"):
        limits.check(steps=11, batch=16, image_size=64)
    with pytest.raises(RunRefused, match="batch size 17"):
        limits.check(steps=1, batch=17, image_size=64)
    with pytest.raises(RunRefused, match="≥ 1"):
        limits.check(steps=1, batch=0, image_size=64)


def test_one_run_per_session_and_a_server_wide_cap():
    registry = RunRegistry(max_concurrent_runs=2)
    registry.acquire("alice")
    with pytest.raises(RunRefused, match="this session already has a run"):
        registry.acquire("alice")
    registry.acquire("bob")
    with pytest.raises(RunRefused, match="server is busy: 2 run"):
        registry.acquire("carol")
    registry.release("bob")
    registry.acquire("carol")
    for key in ("carol", "alice"):
        registry.release(key)
    assert registry.active == 0


def test_the_cap_holds_under_concurrent_requests():
    registry = RunRegistry(max_concurrent_runs=3)
    granted, start = [], threading.Barrier(20)

    def ask(key):
        start.wait()
        try:
            registry.acquire(key)
            granted.append(key)
        except RunRefused:
            pass

    run_together(*(functools.partial(ask, f"s{i}") for i in range(20)))
    assert len(granted) == 3 == registry.active


def test_what_a_run_measures_after_training_is_bounded_by_its_own_variables():
    limits = Limits.from_environment({"RESNET_MAX_HELDOUT_IMAGES": "50", "RESNET_MAX_LINE_POINTS": "11",
                                      "RESNET_MAX_SLICE_SIDE": "5"})
    assert (limits.max_heldout_images, limits.max_line_points, limits.max_slice_side) == (50, 11, 5)
    limits.check_measures(holdout=0.5, line_points=11, slice_side=5)
    limits.check_measures(holdout=0.25, line_points=0, slice_side=0)  # 0: not measured
    for asked, message in [(dict(holdout=0.0), "held-out share"), (dict(holdout=0.6), "held-out share"),
                           (dict(line_points=12), "RESNET_MAX_LINE_POINTS"), (dict(line_points=2), "3 to 11"),
                           (dict(slice_side=7), "RESNET_MAX_SLICE_SIDE"), (dict(slice_side=4), "must be odd")]:
        with pytest.raises(RunRefused, match=message):
            limits.check_measures(**{"holdout": 0.25, "line_points": 0, "slice_side": 0, **asked})
