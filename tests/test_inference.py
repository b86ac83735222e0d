"""resnet.inference and resnet.engines: bytes → top-5 through the app's path, engine parity, Grad-CAM, feature maps.

One ResNet-50 with random weights (BatchNorm statistics included) is written to a legacy .h5 file by conftest and
loaded here once; the keras.applications reference loads the same file.
"""

import threading
from pathlib import Path

import keras
import numpy as np
import pytest

import resnet
from resnet import images
from resnet.errors import ImageError, WeightsUnavailable
from resnet.inference import (UNTRAINED_LABEL, Classifier, FeatureMaps, Prediction, feature_grid, feature_maps,
                              grad_cam, grad_cam_layer, overlay)
from resnet.weights import class_names
from tests.bad_images import bad_inputs
from tests.conftest import AtOnce, run_together

SAMPLES = Path(__file__).resolve().parents[1] / "assets" / "samples"
CAT = SAMPLES / "cat_chelsea.jpg"


@pytest.fixture(scope="module")
def classifier(official_resnet50_h5):
    return Classifier.load("resnet50", weights=str(official_resnet50_h5), engine="tf")


@pytest.fixture(scope="module")
def reference(official_resnet50_h5):
    return keras.applications.ResNet50(weights=str(official_resnet50_h5))


@pytest.fixture(scope="module")
def sample_batch():
    crops = [images.crop_for_model(images.read_image_file(path)) for path in sorted(SAMPLES.glob("*.jpg"))[:3]]
    return images.preprocess(np.stack(crops), "caffe")


# --- bytes → top-5 equals keras.applications on the same file ------------------------------------------------------


def test_bytes_to_top5_equals_keras_applications_with_the_same_weights_file(official_resnet50_h5, reference):
    # "auto": the engine the app uses here (OpenVINO on a CPU), so the app's whole path is what is checked.
    ours = Classifier.load("resnet50", weights=str(official_resnet50_h5), engine="auto", crop_mode="squash")
    [prediction] = ours.classify([CAT.read_bytes()], names=["cat_chelsea.jpg"])

    # keras' own path: load_img resizes the whole photo (bilinear, no crop), preprocess_input, the keras model.
    img = keras.utils.load_img(CAT, target_size=(224, 224), interpolation="bilinear")
    x = keras.applications.resnet50.preprocess_input(keras.utils.img_to_array(img)[np.newaxis])
    expected = reference.predict(x, verbose=0)[0]
    top5 = np.argsort(-expected)[:5]

    assert expected[top5[0]] > 0.05  # a peaked softmax, so agreeing on the order means something
    assert [s.index for s in prediction.top] == top5.tolist()
    np.testing.assert_allclose([s.probability for s in prediction.top], expected[top5], rtol=0, atol=1e-5)
    assert prediction.pretrained and prediction.source == "cat_chelsea.jpg"
    assert (prediction.top[0].wnid, prediction.top[0].label) == class_names()[top5[0]]


def test_several_images_go_through_as_one_batch_and_match_one_by_one(classifier):
    datas = [path.read_bytes() for path in sorted(SAMPLES.glob("*.jpg"))[:3]]
    together = classifier.classify(datas)
    alone = [classifier.classify([data])[0] for data in datas]
    assert [p.batch_size for p in together] == [3, 3, 3] and len({p.latency_ms for p in together}) == 1
    for a, b in zip(together, alone, strict=True):
        assert [s.index for s in a.top] == [s.index for s in b.top]
        np.testing.assert_allclose([s.probability for s in a.top], [s.probability for s in b.top], atol=1e-5)


class CountingEngine:
    """The classifier's own engine, counting how many calls are inside it at once (each made to last 50 ms)."""

    def __init__(self, engine):
        self.engine, self.at_once = engine, AtOnce(0.05)
        self.name, self.device, self.precision = engine.name, engine.device, engine.precision

    def __call__(self, batch):
        with self.at_once.hold():
            return self.engine(batch)


def test_requests_from_many_sessions_run_one_at_a_time_and_all_get_their_answer(official_resnet50_h5):
    one_at_a_time = Classifier.load("resnet50", weights=str(official_resnet50_h5), engine="tf", warm_up=False)
    counting = one_at_a_time.engine = CountingEngine(one_at_a_time.engine)
    data = CAT.read_bytes()
    expected = [s.index for s in one_at_a_time.classify([data])[0].top]
    answers = []
    run_together(*[lambda: answers.append(one_at_a_time.classify([data])[0])] * 8)
    assert len(answers) == 8 and all([s.index for s in a.top] == expected for a in answers)
    assert counting.at_once.most == 1
    two = Classifier(one_at_a_time.model, pretrained=True, weights_source="test", arch="resnet50", engine="tf",
                     warm_up=False, concurrency=2)
    counting = two.engine = CountingEngine(two.engine)
    run_together(*[lambda: two.classify([data])] * 8)
    assert counting.at_once.most == 2


def test_a_top5_does_not_wait_behind_a_grad_cam(classifier, cat_prediction):
    layer = grad_cam_layer(classifier.model)
    real = classifier._explainer(layer)
    started, release = threading.Event(), threading.Event()

    def held_explainer(*args):  # a Grad-CAM that takes as long as the test says
        started.set()
        release.wait(30)
        return real(*args)

    classifier._explainers[layer] = held_explainer
    try:
        explaining = threading.Thread(target=classifier.grad_cam, args=(cat_prediction, 0, layer))
        explaining.start()
        assert started.wait(30)
        [answer] = classifier.classify([CAT.read_bytes()])  # would hang here if it queued behind the Grad-CAM
        assert [s.index for s in answer.top] == [s.index for s in cat_prediction.top] and explaining.is_alive()
    finally:
        release.set()
        explaining.join()
        classifier._explainers[layer] = real


def test_other_work_on_the_network_queues_in_the_explanations_lane(classifier, cat_prediction):
    # Lesions and receptive fields hold classifier.explaining(): a Grad-CAM waits for them, as for another Grad-CAM.
    layer = grad_cam_layer(classifier.model)
    real = classifier._explainer(layer)
    started, holding, release = threading.Event(), threading.Event(), threading.Event()

    def noting_explainer(*args):
        started.set()
        return real(*args)

    def hold_the_lane():
        with classifier.explaining():
            holding.set()
            release.wait(30)

    classifier._explainers[layer] = noting_explainer
    threads = [threading.Thread(target=hold_the_lane),
               threading.Thread(target=classifier.grad_cam, args=(cat_prediction, 0, layer))]
    try:
        threads[0].start()
        assert holding.wait(30)
        threads[1].start()
        assert not started.wait(0.5)  # queued behind the lesion
        release.set()
        assert started.wait(30)
    finally:
        release.set()
        for thread in threads:
            thread.join()
        classifier._explainers[layer] = real


def test_prediction_carries_the_crop_the_model_saw_and_reports_device_and_latency(classifier):
    rgb = images.read_image_file(CAT)
    [prediction] = classifier.classify([rgb], top=3)
    np.testing.assert_array_equal(prediction.crop, images.crop_for_model(rgb))
    np.testing.assert_array_equal(prediction.model_input, images.prepare(rgb))
    assert len(prediction.top) == 3
    assert [s.probability for s in prediction.top] == sorted((s.probability for s in prediction.top), reverse=True)
    assert prediction.device.startswith(("CPU", "NVIDIA", "/physical_device")) and prediction.latency_ms > 0
    assert classifier.first_call_ms > 0  # warmed at construction
    record = prediction.to_json()
    assert set(record) >= {"file", "top", "latency_ms", "device"}
    assert set(record["top"][0]) == {"index", "label", "probability"}


def test_classify_each_reports_bad_files_in_place_and_still_classifies_the_rest(classifier):
    cases = bad_inputs()
    named = [("cat.jpg", CAT.read_bytes()), cases["zero-bytes"][:2], cases["truncated"][:2],
             ("cup.jpg", (SAMPLES / "coffee_cup.jpg").read_bytes())]
    results = classifier.classify_each(named)
    assert isinstance(results[0], Prediction) and isinstance(results[3], Prediction)
    assert results[0].batch_size == 2 and results[3].source == "cup.jpg"
    assert isinstance(results[1], ImageError) and "empty" in str(results[1])
    assert isinstance(results[2], ImageError) and "truncated" in str(results[2])


def test_classify_each_refuses_photos_past_the_limit_unread(classifier):
    cat = CAT.read_bytes()
    named = [(f"cat{i}.jpg", cat) for i in range(images.MAX_PHOTOS)] + [("extra\n.jpg", b"not even an image")]
    results = classifier.classify_each(named)
    assert all(isinstance(result, Prediction) for result in results[:-1])
    assert results[0].batch_size == images.MAX_PHOTOS
    assert isinstance(results[-1], ImageError)
    assert str(results[-1]) == (f"extra .jpg: not classified, over {images.MAX_PHOTOS} photos at once; remove some "
                                "and try again")


@pytest.mark.parametrize("case", list(bad_inputs()))
def test_classify_refuses_each_bad_input_with_one_line(classifier, case):
    name, data, fragment = bad_inputs()[case]
    with pytest.raises(ImageError) as info:
        classifier.classify([data], names=[name])
    assert fragment in str(info.value) and "\n" not in str(info.value) and name in str(info.value)


# --- Grad-CAM and feature maps ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cat_prediction(classifier):
    return classifier.classify([CAT.read_bytes()])[0]


def test_grad_cam_layer_is_the_last_stage_output():
    assert grad_cam_layer(keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3))) == "conv5_block3_out"
    assert grad_cam_layer(resnet.build("resnet50v2", input_shape=(64, 64, 3))) == "post_relu"
    assert grad_cam_layer(resnet.build("resnet20")) == "conv4_block3_out"


def test_grad_cam_is_feature_map_sized_and_spans_zero_to_one(classifier, cat_prediction):
    cam = classifier.grad_cam(cat_prediction, cat_prediction.top[0].index)
    assert cam.shape == (7, 7)
    assert cam.min() == 0.0 and cam.max() == pytest.approx(1.0)
    assert np.unique(np.round(cam, 4)).size > 2  # a map, not a constant or a single hot cell


def test_grad_cam_depends_on_the_class(classifier, cat_prediction):
    first = classifier.grad_cam(cat_prediction, cat_prediction.top[0].index)
    second = classifier.grad_cam(cat_prediction, cat_prediction.top[1].index)
    assert np.abs(first - second).max() > 0.1


def test_grad_cam_uses_the_gradient_of_the_logit(classifier, cat_prediction, reference):
    """Against a plain GradientTape through keras.applications with its softmax removed."""
    import tensorflow as tf

    cls = cat_prediction.top[0].index
    logits_model = keras.Model(reference.input, [reference.get_layer("conv5_block3_out").output,
                                                 reference.get_layer("predictions").output])
    reference.get_layer("predictions").activation = keras.activations.linear
    try:
        x = tf.constant(cat_prediction.model_input[np.newaxis])
        with tf.GradientTape() as tape:
            activations, logits = logits_model(x, training=False)
            score = logits[0, cls]
        gradients = tape.gradient(score, activations)[0].numpy()
    finally:
        reference.get_layer("predictions").activation = keras.activations.softmax
    cam = np.maximum(activations[0].numpy() @ gradients.mean(axis=(0, 1)), 0)
    expected = (cam - cam.min()) / (cam.max() - cam.min())
    np.testing.assert_allclose(classifier.grad_cam(cat_prediction, cls), expected, atol=1e-4)
    np.testing.assert_allclose(grad_cam(classifier.model, cat_prediction.model_input, cls), expected, atol=1e-4)


def test_overlay_is_the_crop_tinted_by_the_heat_map(classifier, cat_prediction):
    cam = classifier.grad_cam(cat_prediction, cat_prediction.top[0].index)
    tinted = overlay(cat_prediction.crop, cam)
    assert tinted.shape == (224, 224, 3) and tinted.dtype == np.uint8
    assert not np.array_equal(tinted, cat_prediction.crop)
    hot = np.unravel_index(np.argmax(cam), cam.shape)
    y, x = (hot[0] * 32 + 16, hot[1] * 32 + 16)  # centre of the hottest cell in crop pixels
    assert int(tinted[y, x, 0]) - int(tinted[y, x, 2]) > int(cat_prediction.crop[y, x, 0]) - int(
        cat_prediction.crop[y, x, 2])  # hot → redder than the photo there


def test_feature_maps_are_normalised_per_channel_and_most_active_first(classifier, cat_prediction):
    maps = classifier.feature_maps(cat_prediction, "conv2_block1_out", limit=16)
    assert maps.maps.shape == (16, 56, 56) and len(maps.channels) == 16
    for channel in maps.maps:
        assert channel.min() == 0.0 and channel.max() == pytest.approx(1.0) or not channel.any()
    extractor = keras.Model(classifier.model.input, classifier.model.get_layer("conv2_block1_out").output)
    strength = extractor(cat_prediction.model_input[np.newaxis]).numpy()[0].mean(axis=(0, 1))
    assert list(maps.channels) == np.argsort(-strength, kind="stable")[:16].tolist()


def test_cached_feature_maps_equal_the_plain_function(classifier, cat_prediction):
    cached = classifier.feature_maps(cat_prediction, "conv3_block4_out", limit=8)
    plain = feature_maps(classifier.model, cat_prediction.model_input, "conv3_block4_out", limit=8)
    assert cached.channels == plain.channels
    np.testing.assert_allclose(cached.maps, plain.maps, atol=1e-5)
    assert cached.grid(columns=4).shape == (2 * 28 + 1, 4 * 28 + 3)


def test_only_the_most_recently_used_feature_extractors_are_kept(classifier, cat_prediction):
    from resnet.inference import KEPT_FEATURE_EXTRACTORS, spatial_layers

    # small late maps: quick to trace and run
    layers = spatial_layers(classifier.model)[-(KEPT_FEATURE_EXTRACTORS + 3):]
    for layer in layers:
        classifier.feature_maps(cat_prediction, layer, limit=2)
    kept = list(classifier._feature_extractors)
    # a class browsing every layer does not keep a traced graph for each
    assert kept == layers[-KEPT_FEATURE_EXTRACTORS:]
    again = classifier.feature_maps(cat_prediction, layers[0], limit=4)  # an evicted layer is traced anew
    plain = feature_maps(classifier.model, cat_prediction.model_input, layers[0], limit=4)
    assert again.channels == plain.channels and list(classifier._feature_extractors)[-1] == layers[0]


def test_feature_grid_tiles_channels_row_by_row():
    maps = np.random.default_rng(0).random((10, 5, 6)).astype("float32")
    grid = feature_grid(maps, columns=4, gap=1)
    assert grid.shape == (3 * 5 + 2, 4 * 6 + 3)
    np.testing.assert_array_equal(grid[0:5, 7:13], maps[1])
    np.testing.assert_array_equal(grid[12:17, 7:13], maps[9])
    assert np.isnan(grid[12:17, 14:]).all() and np.isnan(grid[5]).all()  # empty tiles and gaps stay blank


def test_feature_picture_is_the_grid_in_grey_enlarged_by_whole_pixels():
    maps = np.random.default_rng(1).random((3, 7, 7)).astype("float32")
    maps[0] = 0.0
    maps[0, 0, 0] = 1.0
    picture = FeatureMaps("layer", (0, 1, 2), maps).picture(columns=2, min_width=100)
    factor = 100 // 15 + 1  # the grid is 15 pixels wide: 2 maps and a gap
    assert picture.dtype == np.uint8 and picture.shape == (15 * factor, 15 * factor)
    assert (picture[:factor, :factor] == 255).all() and (picture[factor:7 * factor, :7 * factor] == 0).all()
    assert (picture[:, 7 * factor:8 * factor] == 255).all()  # the gap between the columns is white
    assert (picture[8 * factor:, 8 * factor:] == 255).all()  # so is the empty fourth tile
    np.testing.assert_array_equal(picture[8 * factor:15 * factor:factor, :7 * factor:factor],
                                  np.rint(maps[2] * 255).astype(np.uint8))


def test_feature_maps_of_a_dense_layer_are_refused(classifier, cat_prediction):
    with pytest.raises(ValueError, match="no spatial output"):
        feature_maps(classifier.model, cat_prediction.model_input, "avg_pool")


# --- without ImageNet weights ---------------------------------------------------------------------------------------


def test_missing_weights_raise_unless_untrained_is_allowed(offline):
    with pytest.raises(WeightsUnavailable, match="RESNET_WEIGHTS"):
        Classifier.load("resnet50", weights="imagenet")
    with pytest.raises(WeightsUnavailable):
        Classifier.load("resnet50", weights=None)
    with pytest.raises(WeightsUnavailable, match="no published ImageNet weights"):
        Classifier.load("resnet18", weights="imagenet")


def test_untrained_classifier_labels_every_prediction(offline):
    untrained = Classifier.load("resnet50", weights="imagenet", allow_untrained=True, engine="tf")
    assert not untrained.pretrained and "RESNET_WEIGHTS" in untrained.weights_problem
    [prediction] = untrained.classify([CAT.read_bytes()])
    assert prediction.pretrained is False and prediction.caption == UNTRAINED_LABEL
    assert prediction.to_json()["pretrained"] is False
