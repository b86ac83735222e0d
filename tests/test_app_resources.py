"""app/resources.py: tables and pictures are kept per server; the networks they come from are not."""

import functools
import gc

import keras

import resnet
from app import resources
from resnet import table
from resnet.architectures import ModelSpec
from resnet.diagrams import PlotOptions, View
from tests.conftest import AtOnce, run_together


def live_networks(name: str) -> list[keras.Model]:
    gc.collect()
    return [o for o in gc.get_objects() if isinstance(o, keras.Model) and o.name == name]


def test_a_table_is_kept_and_its_network_is_not():
    spec = ModelSpec(arch="resnet18", input_size=64, classes=7)
    before = len(live_networks("resnet18"))  # other tests' networks may still be alive: count, do not assume none
    rows = resources.layer_table(spec)
    assert len(live_networks("resnet18")) == before  # its ~45 MB of weights went with it
    expected = resnet.build("resnet18", input_shape=(64, 64, 3), classes=7).count_params()
    assert table.totals(rows)["params"] == expected


def test_a_picture_is_kept_and_its_network_is_not(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_CACHE_DIR", str(tmp_path))  # no picture on disk yet: this one is drawn
    before = len(live_networks("resnet20"))
    svg = resources.picture(ModelSpec(arch="resnet20", classes=3), View("collapsed"), PlotOptions())
    assert svg.lstrip().startswith(b"<?xml") and b"195 params" in svg  # the head: 64 × 3 weights + 3 biases
    assert len(live_networks("resnet20")) == before


def test_networks_are_built_one_at_a_time(monkeypatch):
    at_once = AtOnce(0.2)  # a build is held long enough for the other threads to arrive while it runs
    real_build = ModelSpec.build

    def counted_build(spec):
        with at_once.hold():
            return real_build(spec)

    monkeypatch.setattr(ModelSpec, "build", counted_build)
    specs = [ModelSpec(arch="resnet20", classes=c) for c in (11, 12, 13)]
    run_together(*(functools.partial(resources.layer_table, spec) for spec in specs))
    assert at_once.most == 1


def test_the_limits_and_the_run_registry_are_one_per_server(monkeypatch):
    resources.limits.clear()
    resources.run_registry.clear()
    monkeypatch.setenv("RESNET_MAX_CONCURRENT_RUNS", "3")
    try:
        registry = resources.run_registry()
        assert registry.capacity == resources.limits().max_concurrent_runs == 3
        monkeypatch.setenv("RESNET_MAX_CONCURRENT_RUNS", "5")  # read once, at the first call: not again
        assert resources.run_registry() is registry and resources.limits().max_concurrent_runs == 3
    finally:
        resources.limits.clear()
        resources.run_registry.clear()
