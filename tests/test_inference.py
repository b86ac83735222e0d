"""resnet.inference: bytes → top-5 through the app's path, with each ranked class's heat map; the lanes.

One ResNet-50 with random weights (BatchNorm statistics included) is written to a legacy .h5 file by conftest and
loaded here once; the keras.applications reference loads the same file.
"""

import threading
from pathlib import Path

import keras
import numpy as np
import pytest

from resnet import images
from resnet.errors import ImageError, WeightsUnavailable
from resnet.inference import UNTRAINED_LABEL, Classifier, Prediction
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


def test_a_page_of_photos_goes_to_the_engine_a_few_at_a_time_and_matches_one_by_one(classifier):
    # Ten photos as one batch would leave OpenVINO's buffers at ten photos' size for good (inference.ENGINE_BATCH).
    datas = [path.read_bytes() for path in sorted(SAMPLES.glob("*.jpg"))] * 2
    calls = []
    engine = classifier.engine
    original = engine.answer

    def counted(batch):
        calls.append(len(batch))
        return original(batch)

    engine.answer = counted
    try:
        together = classifier.classify(datas)
    finally:
        del engine.answer
    assert calls == [4, 4, 2] and [p.batch_size for p in together] == [10] * 10
    for photo, data in zip(together, datas, strict=True):
        alone = classifier.classify([data])[0]
        assert [s.index for s in photo.top] == [s.index for s in alone.top]
        np.testing.assert_allclose(photo.cams[photo.top[0].index], alone.cams[alone.top[0].index], atol=1e-5)


class CountingEngine:
    """The classifier's own engine, counting how many calls are inside it at once (each made to last 50 ms)."""

    def __init__(self, engine):
        self.engine, self.at_once = engine, AtOnce(0.05)
        self.name, self.device, self.precision = engine.name, engine.device, engine.precision
        self.takes_pixels, self.parallel = engine.takes_pixels, engine.parallel

    def answer(self, batch):
        with self.at_once.hold():
            return self.engine.answer(batch)


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
    # An engine that computes calls side by side (OpenVINO's throughput streams) widens the answers lane itself.
    counting = one_at_a_time.engine = CountingEngine(one_at_a_time.engine.engine)
    counting.parallel = 3
    run_together(*[lambda: one_at_a_time.classify([data])] * 9)
    assert counting.at_once.most == 3


EARLIER = "conv4_block6_out"  # Grad-CAM there takes the gradient, in the explanations lane


def test_a_top5_does_not_wait_behind_a_grad_cam(classifier, cat_prediction):
    layer = EARLIER
    real = classifier.explainer._grad_cam_function(layer)
    started, release = threading.Event(), threading.Event()

    def held_explainer(*args):  # a Grad-CAM that takes as long as the test says
        started.set()
        release.wait(30)
        return real(*args)

    classifier.explainer._grad_cams[layer] = held_explainer
    try:
        explaining = threading.Thread(target=classifier.grad_cam, args=(cat_prediction, 0, layer))
        explaining.start()
        assert started.wait(30)
        [answer] = classifier.classify([CAT.read_bytes()])  # would hang here if it queued behind the Grad-CAM
        assert [s.index for s in answer.top] == [s.index for s in cat_prediction.top] and explaining.is_alive()
    finally:
        release.set()
        explaining.join()
        classifier.explainer._grad_cams[layer] = real


def test_other_work_on_the_network_queues_in_the_explanations_lane(classifier, cat_prediction):
    # Lesions and receptive fields hold classifier.explaining(): a Grad-CAM waits for them, as for another Grad-CAM.
    layer = EARLIER
    real = classifier.explainer._grad_cam_function(layer)
    started, holding, release = threading.Event(), threading.Event(), threading.Event()

    def noting_explainer(*args):
        started.set()
        return real(*args)

    def hold_the_lane():
        with classifier.explaining():
            holding.set()
            release.wait(30)

    classifier.explainer._grad_cams[layer] = noting_explainer
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
        classifier.explainer._grad_cams[layer] = real


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


# --- each ranked class's heat map comes with the answer ------------------------------------------------------------


@pytest.fixture(scope="module")
def cat_prediction(classifier):
    return classifier.classify([CAT.read_bytes()])[0]


def test_each_ranked_class_has_its_heat_map_from_the_answer(classifier, cat_prediction):
    assert cat_prediction.cam_layer == "conv5_block3_out"
    assert set(cat_prediction.cams) == {s.index for s in cat_prediction.top}
    first, second = (cat_prediction.cams[s.index] for s in cat_prediction.top[:2])
    assert first.shape == (7, 7) and first.min() == 0.0 and first.max() == pytest.approx(1.0)
    assert np.unique(np.round(first, 4)).size > 2  # a map, not a constant or a single hot cell
    assert np.abs(first - second).max() > 0.1  # it depends on the class
    # asked through the classifier at that layer, it is the answer's own map: no gradient is traced
    assert classifier.grad_cam(cat_prediction, cat_prediction.top[0].index) is first
    assert classifier._explainer is None or "conv5_block3_out" not in classifier._explainer._grad_cams


def test_json_with_cam_holds_the_top1_map(cat_prediction):
    record = cat_prediction.to_json(cam=True)
    assert record["cam"]["layer"] == "conv5_block3_out" and record["cam"]["class"] == cat_prediction.top[0].index
    np.testing.assert_allclose(record["cam"]["map"], cat_prediction.cams[cat_prediction.top[0].index], atol=1e-6)
    assert "cam" not in cat_prediction.to_json()


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


def test_without_heat_maps_the_engine_answers_with_the_probabilities_alone(classifier, cat_prediction):
    plain = Classifier(classifier.model, pretrained=True, weights_source="test", arch="resnet50", engine="tf",
                       warm_up=False, heat_maps=False)
    [prediction] = plain.classify([CAT.read_bytes()])
    assert plain.engine.feature_layer is None and plain.engine.answer(prediction.model_input[np.newaxis])[1] is None
    assert [s.index for s in prediction.top] == [s.index for s in cat_prediction.top]
    assert prediction.cams == {} and prediction.cam_layer is None and "cam" not in prediction.to_json(cam=True)
