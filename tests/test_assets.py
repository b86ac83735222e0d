"""The shipped data files: ImageNet class names and the sample photos."""

import json
import re
from pathlib import Path

import pytest
from PIL import Image

from resnet import images

ASSETS = Path(__file__).resolve().parents[1] / "assets"
SAMPLES = sorted((ASSETS / "samples").glob("*.jpg"))


@pytest.fixture(scope="module")
def class_index():
    return json.loads((ASSETS / "imagenet_classes.json").read_text(encoding="utf-8"))


def test_class_index_has_the_1000_imagenet_classes_in_order(class_index):
    assert list(class_index) == [str(i) for i in range(1000)]
    assert all(isinstance(entry, list) and len(entry) == 2 for entry in class_index.values())


def test_class_index_wordnet_ids_are_unique_and_well_formed(class_index):
    wnids = [wnid for wnid, _ in class_index.values()]
    assert all(re.fullmatch(r"n\d{8}", wnid) for wnid in wnids)
    assert len(set(wnids)) == 1000
    assert wnids == sorted(wnids)  # ILSVRC numbers its classes in WordNet-id order


def test_class_index_labels_use_keras_spelling(class_index):
    labels = [label for _, label in class_index.values()]
    assert all(label and " " not in label for label in labels)
    # keras' file keeps ILSVRC's two homonym pairs (bird/machine crane, two kinds of maillot)
    assert labels.count("crane") == 2 and labels.count("maillot") == 2
    assert len(set(labels)) == 998


@pytest.mark.parametrize(
    ("index", "wnid", "label"),
    [
        (0, "n01440764", "tench"),
        (1, "n01443537", "goldfish"),
        (281, "n02123045", "tabby"),
        (504, "n03063599", "coffee_mug"),
        (999, "n15075141", "toilet_tissue"),
    ],
)
def test_class_index_spot_checks(class_index, index, wnid, label):
    assert class_index[str(index)] == [wnid, label]


def test_there_are_four_to_six_samples_and_each_is_documented():
    assert 4 <= len(SAMPLES) <= 6
    readme = (ASSETS / "README.md").read_text(encoding="utf-8")
    for path in SAMPLES:
        assert path.name in readme


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_is_a_small_jpeg_the_decoder_accepts(path):
    assert path.stat().st_size < 100 * 1024
    with Image.open(path) as img:
        assert img.format == "JPEG" and max(img.size) <= 512
    rgb = images.decode_image(path.read_bytes(), name=path.name)
    assert rgb.shape[2] == 3 and min(rgb.shape[:2]) >= images.MIN_SIDE
