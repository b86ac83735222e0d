"""`python -m resnet serve`: refusals in one line before anything starts, and --export's answer."""

import json
import subprocess
import sys

import pytest

from resnet import paths
from resnet.__main__ import main


@pytest.mark.parametrize("argv, fragment", [
    (["serve", "--port", "0"], "--port must be 1 to 65535"),
    (["serve", "--answer-replicas", "0"], "--answer-replicas"),
    (["serve", "--roles", "answer,dance"], "unknown role 'dance'"),
])
def test_bad_options_are_refused_in_one_line(argv, fragment, capsys):
    assert main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and fragment in error and "\n" not in error


def test_without_ray_it_says_how_to_install_it(tmp_path):
    blocker = tmp_path / "ray"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('no Ray in this test')\n")
    done = subprocess.run([sys.executable, "-m", "resnet", "serve", "--port", "8999"], cwd=paths.ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "PYTHONPATH": str(tmp_path)})
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last == ("error: Ray Serve is an optional install: run `make serve` or pip install -r "
                    "requirements-serve.txt")


def test_export_prints_the_ir_folder_it_keeps(tmp_path, monkeypatch, offline, capsys):
    monkeypatch.setenv("RESNET_CACHE_DIR", str(tmp_path))
    folder = tmp_path / "serve" / "resnet50-random-seed-0"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"arch": "resnet50"}))  # as an earlier export left it
    assert main(["serve", "--export"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == str(folder) and "random weights (seed 0)" in err
