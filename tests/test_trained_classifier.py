"""The net you trained, on the Predict page's terms: each claim checked against Keras run on the trained model alone."""

import keras
import numpy as np
import pytest

from resnet import images
from resnet.datasets import lab_input
from resnet.lab_cam import LabCam
from resnet.lab_lesions import heldout_lesions
from resnet.trained_classifier import TrainedClassifier


@pytest.fixture(scope="module")
def photo() -> bytes:
    rng = np.random.default_rng(3)
    return images.encoded(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8))


def test_lab_preprocessing_is_the_lab_inputs_own():
    pixels = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    np.testing.assert_allclose(images.preprocess(pixels, "lab"), lab_input(pixels / 255.0), rtol=0, atol=1e-6)


def test_answers_are_the_trained_models_own_with_the_runs_class_names(trained_pair, photo):
    net = trained_pair["resnet20"]
    classifier = TrainedClassifier.of("resnet20", trained_pair)
    assert TrainedClassifier.of("resnet20", trained_pair) is classifier  # made once per net
    [prediction] = classifier.classify_each([("mine.png", photo)], top=3)

    crop = images.crop_for_model(images.decode_image(photo), classifier.input_size)
    expected = keras.ops.convert_to_numpy(net.model(lab_input(crop[np.newaxis] / 255.0), training=False))[0]
    best = np.argsort(-expected)[:3]
    assert [s.index for s in prediction.top] == best.tolist()
    np.testing.assert_allclose([s.probability for s in prediction.top], expected[best], atol=1e-5)
    assert [s.label for s in prediction.top] == [net.result.class_names[i] for i in best]
    assert prediction.crop.shape[:2] == net.model.input_shape[1:3] and prediction.pretrained
    assert classifier.precisions() == ("fp32",)


def test_the_answers_heat_map_is_the_lab_grad_cam_of_that_class(trained_pair, photo):
    classifier = TrainedClassifier.of("resnet20", trained_pair)
    [prediction] = classifier.classify_each([("mine.png", photo)], top=3)
    lab_cam = LabCam(trained_pair["resnet20"].model, prediction.cam_layer)
    for score in prediction.top:
        np.testing.assert_allclose(classifier.grad_cam(prediction, score.index),
                                   lab_cam(prediction.model_input, score.index), atol=1e-5)


def test_two_runs_nets_of_one_name_never_share_a_cache_key(trained_pair):
    first = TrainedClassifier.of("resnet20", trained_pair)
    again = TrainedClassifier(trained_pair["resnet20"], trained_pair)
    assert first.identity != again.identity and first.identity != first.arch_name


def test_lesions_are_the_held_out_lesions_of_both_nets(trained_pair):
    nets = TrainedClassifier.of("plain20", trained_pair).held_out_lesions()
    for name, net in nets.items():
        assert net.lesions == heldout_lesions(net), name
        assert len(net.lesions) == 9  # ResNet-20: three stages of three blocks


def test_fields_compare_the_trained_pair_and_only_a_residual_net_has_shortcuts(trained_pair):
    plain = TrainedClassifier.of("plain20", trained_pair)
    probes = plain.field_probes()
    assert [p.model for p in probes] == [trained_pair["resnet20"].model, trained_pair["plain20"].model]
    layer = "conv3_block3_out"  # resnet20's row's field_layer
    assert layer in probes[0].rows["name"].tolist() and layer in probes[1].rows["name"].tolist()
    assert plain.shortcut_probe() is not None  # the run's residual net's, not the plain one's
    signals = plain.shortcut_probe()(images.preprocess(np.zeros((32, 32, 3), np.uint8), "lab"))
    assert len(signals) == 9
