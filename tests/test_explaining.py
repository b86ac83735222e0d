"""resnet.explaining: the heat maps that come with an answer are Grad-CAM at the last feature map, on both engines;
Grad-CAM by the gradient elsewhere; feature maps.

One ResNet-50 with random weights (BatchNorm statistics included), written to a legacy .h5 file by conftest, is
loaded here once; the keras.applications reference loads the same file.
"""

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import resnet
from resnet import engines, images
from resnet.explaining import (KEPT_FEATURE_EXTRACTORS, Explainer, cam_head, feature_maps, grad_cam, grad_cam_layer,
                               spatial_layers)
from resnet.inference import Classifier

SAMPLES = Path(__file__).resolve().parents[1] / "assets" / "samples"
CAT = SAMPLES / "cat_chelsea.jpg"


@pytest.fixture(scope="module")
def model(official_resnet50_h5):
    return resnet.build("resnet50", weights=str(official_resnet50_h5))


@pytest.fixture(scope="module")
def explainer(model):
    return Explainer(model)


@pytest.fixture(scope="module")
def cat_input():
    return images.prepare(images.read_image_file(CAT))


# --- the heat maps of an answer are Grad-CAM at conv5_block3_out ---------------------------------------------------


@pytest.mark.parametrize("engine", ["tf", pytest.param("openvino", marks=pytest.mark.skipif(
    not engines.openvino_available(), reason="OpenVINO is not installed"))])
def test_the_answers_heat_maps_equal_grad_cam_by_the_gradient_on_each_engine(model, explainer, engine):
    classifier = Classifier(model, pretrained=True, weights_source="test", arch="resnet50", engine=engine,
                            warm_up=False)
    photos = [path.read_bytes() for path in sorted(SAMPLES.glob("*.jpg"))[:2]]
    for prediction in classifier.classify(photos):
        assert prediction.engine == engine and prediction.cam_layer == "conv5_block3_out"
        maps = [prediction.cams[score.index] for score in prediction.top]
        assert len({m.tobytes() for m in maps}) == 5  # five classes, five different maps
        for score, cam in zip(prediction.top, maps, strict=True):
            by_gradient = explainer.grad_cam(prediction.model_input, score.index, "conv5_block3_out")
            assert by_gradient.max() == pytest.approx(1.0) and np.unique(np.round(by_gradient, 3)).size > 5
            np.testing.assert_allclose(cam, by_gradient, rtol=0, atol=1e-5, err_msg=f"{engine}, class {score.index}")


def test_a_network_whose_head_is_not_a_global_pool_has_no_heat_maps_in_its_answers():
    assert cam_head(resnet.build("resnet50_course")) is None  # AvgPool(2) → Flatten: its maps need the gradient
    head = cam_head(resnet.build("resnet20"))
    assert head.layer == "conv4_block3_out" and head.kernel.shape == (64, 10)
    assert cam_head(resnet.build("resnet20", include_top=False)) is None


def test_grad_cam_layer_is_the_last_stage_output():
    assert grad_cam_layer(keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3))) == "conv5_block3_out"
    assert grad_cam_layer(resnet.build("resnet50v2", input_shape=(64, 64, 3))) == "post_relu"
    assert grad_cam_layer(resnet.build("resnet20")) == "conv4_block3_out"


# --- Grad-CAM by the gradient ----------------------------------------------------------------------------------------


def test_grad_cam_uses_the_gradient_of_the_logit(official_resnet50_h5, explainer, cat_input):
    """Against a plain GradientTape through keras.applications with its softmax removed, at two layers."""
    reference = keras.applications.ResNet50(weights=str(official_resnet50_h5))
    first, second = np.argsort(-reference(cat_input[np.newaxis]).numpy()[0])[:2]
    reference.get_layer("predictions").activation = keras.activations.linear
    for layer, cls in (("conv5_block3_out", first), ("conv4_block6_out", second)):
        logits_model = keras.Model(reference.input, [reference.get_layer(layer).output,
                                                     reference.get_layer("predictions").output])
        with tf.GradientTape() as tape:
            activations, logits = logits_model(tf.constant(cat_input[np.newaxis]), training=False)
            score = logits[0, cls]
        gradients = tape.gradient(score, activations)[0].numpy()
        cam = np.maximum(activations[0].numpy() @ gradients.mean(axis=(0, 1)), 0)
        assert cam.max() > 0  # a map to compare, not ReLU's zeros
        expected = (cam - cam.min()) / (cam.max() - cam.min())
        np.testing.assert_allclose(explainer.grad_cam(cat_input, cls, layer), expected, atol=1e-4)
        np.testing.assert_allclose(grad_cam(explainer.model, cat_input, cls, layer), expected, atol=1e-4)


def test_grad_cam_at_an_earlier_layer_is_that_layers_size_and_depends_on_the_class(explainer, cat_input):
    ranked = np.argsort(-explainer.model(cat_input[np.newaxis]).numpy()[0])
    first, second = (explainer.grad_cam(cat_input, int(cls), "conv4_block6_out") for cls in ranked[:2])
    assert first.shape == (14, 14) and first.min() == 0.0 and first.max() == pytest.approx(1.0)
    assert np.abs(first - second).max() > 0.05


# --- feature maps ----------------------------------------------------------------------------------------------------


def test_feature_maps_are_normalised_per_channel_and_most_active_first(explainer, cat_input):
    maps = explainer.feature_maps(cat_input, "conv2_block1_out", limit=16)
    assert maps.maps.shape == (16, 56, 56) and len(maps.channels) == 16
    for channel in maps.maps:
        assert channel.min() == 0.0 and channel.max() == pytest.approx(1.0) or not channel.any()
    extractor = keras.Model(explainer.model.input, explainer.model.get_layer("conv2_block1_out").output)
    strength = extractor(cat_input[np.newaxis]).numpy()[0].mean(axis=(0, 1))
    assert list(maps.channels) == np.argsort(-strength, kind="stable")[:16].tolist()


def test_kept_feature_maps_equal_the_plain_function(explainer, cat_input):
    kept = explainer.feature_maps(cat_input, "conv3_block4_out", limit=8)
    plain = feature_maps(explainer.model, cat_input, "conv3_block4_out", limit=8)
    assert kept.channels == plain.channels
    np.testing.assert_allclose(kept.maps, plain.maps, atol=1e-5)
    assert kept.grid(columns=4).shape == (2 * 28 + 1, 4 * 28 + 3)


def test_only_the_most_recently_used_feature_extractors_are_kept(explainer, cat_input):
    layers = spatial_layers(explainer.model)[-(KEPT_FEATURE_EXTRACTORS + 3):]  # small late maps: quick to trace
    for layer in layers:
        explainer.feature_maps(cat_input, layer, limit=2)
    # a class browsing every layer does not keep a traced graph for each
    assert list(explainer._feature_extractors) == layers[-KEPT_FEATURE_EXTRACTORS:]
    again = explainer.feature_maps(cat_input, layers[0], limit=4)  # an evicted layer is traced anew
    plain = feature_maps(explainer.model, cat_input, layers[0], limit=4)
    assert again.channels == plain.channels and list(explainer._feature_extractors)[-1] == layers[0]


def test_feature_maps_of_a_dense_layer_are_refused(explainer, cat_input):
    with pytest.raises(ValueError, match="no spatial output"):
        feature_maps(explainer.model, cat_input, "avg_pool")
