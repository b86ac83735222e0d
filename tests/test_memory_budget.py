"""resnet/memory_budget.py: what each part of a server holds, measured in a fresh process as bench does."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS_MB = 25_636_712 * 4 / 1024 / 1024  # ResNet-50's parameters as float32: 97.8 MB


@pytest.fixture(scope="module")
def parts():
    done = subprocess.run([sys.executable, "-m", "resnet.memory_budget", "--json"], cwd=ROOT, capture_output=True,
                          text=True, timeout=900, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_each_part_is_what_it_added_to_the_ones_before(parts):
    for before, part in zip(parts, parts[1:]):
        assert part["total_mb"] == pytest.approx(before["total_mb"] + part["added_mb"], abs=0.2)
    assert parts[0]["total_mb"] > 200  # Python with TensorFlow imported is hundreds of MB, not nothing


def test_the_network_holds_its_weights_and_not_a_copy_more(parts):
    [network] = [part for part in parts if part["name"].startswith("the network")]
    # Its float32 weights at least (a measurement that missed them would be wrong), under three copies of them.
    assert WEIGHTS_MB * 0.95 <= network["added_mb"] <= WEIGHTS_MB * 3


def test_every_explanation_of_the_page_is_a_line(parts):
    names = " | ".join(part["name"] for part in parts)
    for part in ("forward pass", "Grad-CAM", "feature maps", "lesion", "receptive fields", "shortcut"):
        assert part in names
