"""ImageNet weights without the internet: a file:// origin, the md5 check, the cache, and the offline message."""

import shutil

import numpy as np
import pytest

import resnet
from resnet import weights
from resnet.errors import WeightsUnavailable

NAME = "resnet50_weights_tf_dim_ordering_tf_kernels.h5"


@pytest.fixture
def origin(tmp_path, official_resnet50_h5):
    """A folder served as a file:// origin that holds our made-up 'official' file, and an empty Keras cache."""
    served = tmp_path / "origin"
    served.mkdir()
    shutil.copy(official_resnet50_h5, served / NAME)
    return served


@pytest.fixture
def trusted(monkeypatch, official_resnet50_h5):
    """Make our made-up file the one whose md5 the table trusts (the real md5 belongs to the real file)."""
    monkeypatch.setitem(weights.MD5, "resnet50", (weights.md5_of(official_resnet50_h5), "0" * 32))


def test_the_file_names_and_hashes_are_keras_applications(official_resnet50_h5):
    from keras.src.applications import resnet as keras_resnet

    assert weights.KERAS_ORIGIN == keras_resnet.BASE_WEIGHTS_PATH
    for name, hashes in weights.MD5.items():
        assert keras_resnet.WEIGHTS_HASHES[name] == hashes
    assert weights.file_name("resnet50") == NAME
    assert weights.file_name("resnet50", include_top=False).endswith("_notop.h5")


def test_files_are_named_by_their_stem_not_by_a_network_of_the_table(tmp_path, monkeypatch):
    # A file keras.applications might add tomorrow is found by its stem before any row of the table names it.
    path = tmp_path / weights.file_name("resnet9000")
    path.write_bytes(b"not really weights")
    monkeypatch.setitem(weights.MD5, "resnet9000", (weights.md5_of(path), "0" * 32))
    monkeypatch.setenv("RESNET_WEIGHTS", str(path))
    assert weights.imagenet_weights_path("resnet9000", cache_dir=str(tmp_path)) == str(path)
    with pytest.raises(WeightsUnavailable, match="^resnet18 has no published ImageNet weights$"):
        weights.imagenet_weights_path("resnet18", cache_dir=str(tmp_path))


def test_fetch_from_a_file_origin_into_the_cache(origin, trusted, tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_WEIGHTS_ORIGIN", origin.as_uri())
    cache = tmp_path / "keras"
    path = weights.imagenet_weights_path("resnet50", cache_dir=str(cache))
    assert path == str(cache / "models" / NAME)
    (origin / NAME).unlink()  # a second call is served by the cache alone
    assert weights.imagenet_weights_path("resnet50", cache_dir=str(cache)) == path


def test_a_file_with_the_wrong_hash_is_refused_and_not_kept(origin, tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_WEIGHTS_ORIGIN", origin.as_uri())  # the real md5 will not match our file
    cache = tmp_path / "keras"
    with pytest.raises(WeightsUnavailable, match="refused .* md5 is not keras.applications' 2cb95161"):
        weights.imagenet_weights_path("resnet50", cache_dir=str(cache))
    assert not (cache / "models" / NAME).exists()


def test_offline_with_nothing_cached_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_WEIGHTS_ORIGIN", (tmp_path / "nowhere").as_uri())
    monkeypatch.delenv("RESNET_WEIGHTS", raising=False)
    monkeypatch.delenv("RESNET_WEIGHTS_DIR", raising=False)
    with pytest.raises(WeightsUnavailable) as error:
        weights.imagenet_weights_path("resnet50", cache_dir=str(tmp_path / "keras"))
    message = str(error.value)
    assert "\n" not in message
    for words in (NAME, "could not be fetched", "models", "RESNET_WEIGHTS=", "RESNET_WEIGHTS_DIR=", "make weights"):
        assert words in message


def test_without_download_a_missing_file_fails_at_once(tmp_path):
    with pytest.raises(WeightsUnavailable, match="not here"):
        weights.imagenet_weights_path("resnet50", cache_dir=str(tmp_path), download=False)


def test_weights_dir_and_weights_file_are_checked_too(official_resnet50_h5, monkeypatch, tmp_path):
    monkeypatch.setenv("RESNET_WEIGHTS_DIR", str(official_resnet50_h5.parent))
    with pytest.raises(WeightsUnavailable, match="RESNET_WEIGHTS_DIR.*md5"):
        weights.imagenet_weights_path("resnet50", cache_dir=str(tmp_path))
    monkeypatch.setitem(weights.MD5, "resnet50", (weights.md5_of(official_resnet50_h5), "0" * 32))
    assert weights.imagenet_weights_path("resnet50", cache_dir=str(tmp_path)) == str(official_resnet50_h5)
    monkeypatch.delenv("RESNET_WEIGHTS_DIR")
    monkeypatch.setenv("RESNET_WEIGHTS", str(tmp_path / NAME))
    with pytest.raises(WeightsUnavailable, match="does not exist"):
        weights.imagenet_weights_path("resnet50", cache_dir=str(tmp_path))


def test_build_with_imagenet_loads_the_verified_file(official_resnet50_h5, trusted, monkeypatch):
    import keras

    monkeypatch.setenv("RESNET_WEIGHTS", str(official_resnet50_h5))
    ours = resnet.build("resnet50", weights="imagenet", input_shape=(64, 64, 3))
    reference = keras.applications.ResNet50(weights=str(official_resnet50_h5), input_shape=(64, 64, 3))
    x = np.random.default_rng(4).normal(0, 50, (1, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(ours(x).numpy(), reference(x).numpy(), rtol=0, atol=1e-5)


def test_a_file_for_another_network_is_a_clear_error(official_resnet50_h5):
    with pytest.raises(WeightsUnavailable, match="could not load .* into resnet101"):
        resnet.build("resnet101", weights=str(official_resnet50_h5), input_shape=(64, 64, 3))


def test_class_names_are_the_thousand_imagenet_classes():
    names = weights.class_names()
    assert len(names) == 1000
    assert names[0] == ("n01440764", "tench") and names[999][1] == "toilet_tissue"
