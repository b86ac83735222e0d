"""`python -m resnet tables`: every network's table counted once into the cache, where a page without Keras reads it."""

import pandas as pd

from resnet import table
from resnet.__main__ import main
from resnet.architectures import ModelSpec


def test_tables_counts_each_network_and_twin_once_into_the_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RESNET_CACHE_DIR", str(tmp_path))
    assert main(["tables", "--arch", "resnet20"]) == 0
    out = capsys.readouterr().out
    assert "2 tables in" in out and "(2 counted now" in out
    residual = table.stored_layer_table(ModelSpec(arch="resnet20"))
    plain = table.stored_layer_table(ModelSpec(arch="resnet20", plain=True))
    pd.testing.assert_frame_equal(residual, table.layer_table(ModelSpec(arch="resnet20").build()))
    assert not plain.type.eq("Add").any() and residual.type.eq("Add").any()  # the twin has no shortcuts
    # Counted once: a second run finds them and builds nothing.
    before = {path: path.stat().st_mtime_ns for path in (tmp_path / "tables").iterdir()}
    assert main(["tables", "--arch", "resnet20"]) == 0
    assert "(0 counted now" in capsys.readouterr().out
    assert {path: path.stat().st_mtime_ns for path in (tmp_path / "tables").iterdir()} == before
