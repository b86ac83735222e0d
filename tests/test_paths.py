"""Every folder the explorer reads or writes, as the environment names it; and the modules that use them agree."""

from pathlib import Path

import pytest

from resnet import paths


@pytest.fixture
def bare_environment(tmp_path, monkeypatch) -> Path:
    """No cache variable set (conftest sets them all for the suite), and a home of the test's own."""
    for name in ("RESNET_CACHE_DIR", "XDG_CACHE_HOME", "KERAS_HOME"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    return home


def test_without_variables_the_folders_are_under_home(bare_environment):
    assert paths.cache_root() == bare_environment / ".cache" / "resnet-explorer"
    assert paths.diagram_cache() == bare_environment / ".cache" / "resnet-explorer" / "diagrams"
    assert paths.keras_home() == bare_environment / ".keras"


def test_the_cache_follows_xdg_cache_home(bare_environment, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert paths.diagram_cache() == tmp_path / "xdg" / "resnet-explorer" / "diagrams"


def test_an_empty_xdg_cache_home_counts_as_unset(bare_environment, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert paths.cache_root() == bare_environment / ".cache" / "resnet-explorer"


def test_resnet_cache_dir_wins_over_xdg_cache_home(bare_environment, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("RESNET_CACHE_DIR", str(tmp_path / "mine"))
    assert paths.cache_root() == tmp_path / "mine"
    assert paths.diagram_cache() == tmp_path / "mine" / "diagrams"


def test_keras_home_follows_keras_home_and_keeps_its_fallback(bare_environment, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    assert paths.keras_home() == tmp_path / "keras"
    assert paths.keras_homes() == (tmp_path / "keras", Path("/tmp/.keras"))


def test_a_variable_set_after_import_is_obeyed(bare_environment, tmp_path, monkeypatch):
    before = paths.cache_root()
    monkeypatch.setenv("RESNET_CACHE_DIR", str(tmp_path / "later"))
    assert paths.cache_root() == tmp_path / "later" != before


def test_the_shipped_files_are_where_the_paths_say():
    assert (paths.ASSETS / "imagenet_classes.json").is_file()
    assert paths.SAMPLES.parent == paths.ASSETS and any(paths.SAMPLES.glob("*.jpg"))


def test_diagrams_weights_and_datasets_use_these_folders(bare_environment, tmp_path, monkeypatch):
    from resnet import datasets, diagrams, weights

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    drawn = diagrams.cache_path(diagrams.ModelSpec("resnet20"), diagrams.View(), diagrams.PlotOptions(), "svg")
    assert drawn.parent == tmp_path / "xdg" / "resnet-explorer" / "diagrams"
    assert str(tmp_path / "keras" / "models") in weights.how_to_get("resnet50")

    monkeypatch.setattr(paths, "KERAS_FALLBACK_HOME", tmp_path / "nowhere")
    assert not datasets.cifar10_cached()
    (tmp_path / "keras" / "datasets").mkdir(parents=True)
    (tmp_path / "keras" / "datasets" / "cifar-10-batches-py-target_archive").write_bytes(b"")
    assert datasets.cifar10_cached()
