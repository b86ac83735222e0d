"""The network tier's HTTP API (resnet.serving.api) on the roles in this process, served by uvicorn on 127.0.0.1:
the answers and explanations a client gets, and hostile bodies and parameters refused in one line."""

import io
import json
import pickle

import numpy as np
import pytest
import urllib3

from resnet import images, paths
from resnet.answers import Prediction
from resnet.block_signal import BlockSignal
from resnet.cam_maps import FeatureMaps
from resnet.fields import EffectiveField
from resnet.lesion_result import LesionResult
from resnet.serving.api import CROPS_CAP, LocalBackend, create_app
from resnet.serving.train import run_config
from tests.serving_support import served


class Http:
    """Plain HTTP to a served app (Starlette's TestClient needs a package we do not install)."""

    class Response:
        def __init__(self, response):
            self.status_code, self.text = response.status, response.data.decode(errors="replace")

        def json(self):
            return json.loads(self.text)

    def __init__(self, url):
        self.url, self.pool = url, urllib3.PoolManager(retries=False, timeout=120)

    def get(self, path):
        return self.Response(self.pool.request("GET", self.url + path))

    def post(self, path, content=b""):
        return self.Response(self.pool.request("POST", self.url + path, body=content))


@pytest.fixture(scope="module")
def http(local_tier):
    return Http(local_tier)


@pytest.fixture(scope="module")
def crop():
    return images.crop_for_model(images.read_image_file(paths.FIRST_SAMPLE), (224, 224))


def npy(array, **options) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, **options)
    return buffer.getvalue()


def assert_one_line_error(response, status):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error and "\n" not in error and "Traceback" not in error and str(paths.ROOT) not in error
    return error


def test_health_reports_the_answer_roles_network(http):
    facts = http.get("/v1/health").json()
    assert facts["status"] == "ok" and facts["answer"]["arch"] == "resnet50"
    assert facts["answer"]["pretrained"] is True and facts["answer"]["classes"] == 1000
    assert "fp32" in facts["answer"]["precisions"]


def test_predict_answers_a_photo_as_the_role_does(http, answer_role):
    data = paths.FIRST_SAMPLE.read_bytes()
    answer = http.post("/v1/predict?top=3&crop=center", content=data).json()
    expected = answer_role.predict(data, top=3)
    assert [s["index"] for s in answer["top"]] == [s.index for s in expected.top]
    assert answer["engine"] == "openvino" and answer["precision"] == "fp32" and answer["pretrained"] is True
    assert answer["cam"]["layer"] == "conv5_block3_out" and answer["cam"]["class"] == answer["top"][0]["index"]
    heat_map = np.asarray(answer["cam"]["map"])
    assert heat_map.shape == (7, 7) and heat_map.min() >= 0 and heat_map.max() <= 1
    assert set(answer["cams"]) == {str(s["index"]) for s in answer["top"]}
    squashed = http.post("/v1/predict?crop=squash", content=data).json()
    assert squashed["top"][0]["probability"] != answer["top"][0]["probability"]


def test_answer_takes_a_batch_of_crops_and_rebuilds_as_predictions(http, answer_role, crop):
    batch = np.stack([crop, crop[:, ::-1]])
    documents = http.post("/v1/answer?top=5", content=npy(batch)).json()
    assert len(documents) == 2
    rebuilt = [Prediction.from_json(d, crop=c) for d, c in zip(documents, batch, strict=True)]
    for mine, theirs in zip(rebuilt, answer_role.answer(batch), strict=True):
        assert mine.top == tuple(s.__class__(s.index, s.wnid, s.label, s.probability) for s in theirs.top)
        for index, heat_map in theirs.cams.items():
            np.testing.assert_allclose(mine.cams[index], heat_map, atol=1e-6)


@pytest.mark.parametrize("query", ["top=0", "top=abc", "top=1001", "precision=fp8", "crop=stretch"])
def test_bad_parameters_are_422_in_one_line(http, query):
    assert_one_line_error(http.post(f"/v1/predict?{query}", content=paths.FIRST_SAMPLE.read_bytes()), 422)


def test_a_body_that_is_not_a_photo_is_400_with_the_images_own_line(http):
    error = assert_one_line_error(http.post("/v1/predict", content=b"%PDF-1.7 not a photo"), 400)
    assert "unsupported format PDF" in error
    assert "empty" in assert_one_line_error(http.post("/v1/predict", content=b""), 400)


def test_a_photo_over_the_cap_is_refused_by_its_length_and_by_its_count(http):
    too_big = b"\0" * (images.MAX_UPLOAD_MB * 1024 * 1024 + 1)
    assert "limit" in assert_one_line_error(http.post("/v1/predict", content=too_big), 413)

    def chunks():  # no Content-Length: the body is counted as it arrives
        for _ in range(images.MAX_UPLOAD_MB + 1):
            yield b"\0" * (1024 * 1024)

    assert "limit" in assert_one_line_error(http.post("/v1/predict", content=chunks()), 413)


@pytest.mark.parametrize("body, fragment", [
    (npy(np.zeros((1, 224, 224, 3), np.float32)), "uint8"),
    (npy(np.zeros((224, 224, 3), np.uint8)), "N×H×W×3"),
    (npy(np.zeros((1, 224, 224, 4), np.uint8)), "N×H×W×3"),
    (npy(np.array([{"x": 1}], dtype=object), allow_pickle=True), ".npy"),
    (pickle.dumps(np.zeros((1, 224, 224, 3), np.uint8)), ".npy"),
    (b"\x93NUMPY garbage", ".npy"),
])
def test_crops_of_the_wrong_kind_are_400(http, body, fragment):
    assert fragment in assert_one_line_error(http.post("/v1/answer", content=body), 400)


def test_wrong_sizes_and_too_many_crops_are_refused(http):
    assert "224" in assert_one_line_error(http.post("/v1/answer", content=npy(np.zeros((1, 100, 100, 3), np.uint8))),
                                          422)
    assert_one_line_error(http.post("/v1/answer", content=b"\0" * (CROPS_CAP + 1)), 413)
    eleven = npy(np.zeros((images.MAX_PHOTOS + 1, 8, 8, 3), np.uint8))
    assert str(images.MAX_PHOTOS) in assert_one_line_error(http.post("/v1/answer", content=eleven), 422)


def test_unexpected_failures_are_500_without_a_traceback(answer_role, caplog):
    class Broken:
        def health(self):
            raise RuntimeError(f"secret detail from {paths.ROOT}/resnet/serving/answer.py")

    with served(create_app(LocalBackend(answer=Broken()))) as url, caplog.at_level("ERROR", logger="resnet.serving"):
        http = Http(url)
        error = assert_one_line_error(http.get("/v1/health"), 500)
        assert "not deployed" in assert_one_line_error(http.post("/v1/train", content=b"{}"), 503)
    assert "secret" not in error and "secret detail" in caplog.text  # logged here, never sent


def test_grad_cam_at_another_layer_is_the_libraries(http, explain_role, crop):
    from resnet.explaining import Explainer

    answer = http.post("/v1/explain/gradcam?class=281&layer=conv4_block6_out", content=npy(crop)).json()
    expected = Explainer(explain_role.model).grad_cam(images.preprocess(crop, "caffe"), 281, "conv4_block6_out")
    assert answer["layer"] == "conv4_block6_out" and answer["class"] == 281
    np.testing.assert_allclose(np.asarray(answer["map"]), expected, atol=1e-5)
    assert "no layer" in assert_one_line_error(http.post("/v1/explain/gradcam?class=1&layer=nope", content=npy(crop)),
                                               422)
    assert_one_line_error(http.post("/v1/explain/gradcam?class=1000", content=npy(crop)), 422)
    assert_one_line_error(http.post("/v1/explain/gradcam", content=npy(crop)), 422)  # the class is required


def test_feature_maps_shortcuts_and_lesions_rebuild_as_the_librarys_objects(http, explain_role, crop):
    from resnet.lesion import LesionNet
    from resnet.shortcuts import ShortcutProbe

    maps = FeatureMaps.from_json(http.post("/v1/explain/features?layer=conv2_block1_out&limit=4",
                                           content=npy(crop)).json())
    assert maps.layer == "conv2_block1_out" and len(maps.channels) == 4 and maps.maps.shape == (4, 56, 56)
    assert maps.picture().dtype == np.uint8

    signals = tuple(BlockSignal.from_json(b) for b in http.post("/v1/explain/shortcuts",
                                                               content=npy(crop)).json()["blocks"])
    assert signals == ShortcutProbe(explain_role.model, "resnet50")(images.preprocess(crop, "caffe"))

    result = LesionResult.from_json(http.post("/v1/explain/lesions?remove=conv3_block2%2Bconv3_block3",
                                              content=npy(crop[None])).json())
    expected = LesionNet(explain_role.model, "resnet50").each_block(images.preprocess(crop, "caffe"),
                                                                    also=[("conv3_block2", "conv3_block3")])
    assert result.removed == expected.removed and result.removed[-1] == ("conv3_block2", "conv3_block3")
    np.testing.assert_allclose(result.lesioned, expected.lesioned, atol=1e-6)
    assert result.costliest_block() == expected.costliest_block()
    assert "conv9" in assert_one_line_error(http.post("/v1/explain/lesions?remove=conv9_block1", content=npy(crop)),
                                            422)


def test_fields_of_a_unit_on_the_photo_and_on_noise(http, crop):
    layers = http.get("/v1/explain/layers").json()
    first = layers["field_layers"][1]
    assert first["name"] == "conv2_block1_out" and first["map_size"] == [56, 56]
    assert len(layers["blocks"]) == 16 and layers["blocks"][0]["kind"] == "projection"
    on_photo = http.post("/v1/explain/fields?layer=conv2_block1_out&row=10&col=20", content=npy(crop)).json()
    residual = EffectiveField.from_json(on_photo["residual"])
    assert on_photo["position"] == [10, 20] and residual.heat.shape == (224, 224)
    assert residual.mass_in_box == pytest.approx(1, abs=1e-6) and residual.box.to_json() == on_photo["box"]
    on_noise = http.post("/v1/explain/fields?layer=conv2_block1_out").json()
    assert on_noise["position"] == [28, 28] and on_noise["plain"]["heat"] != on_photo["plain"]["heat"]
    assert_one_line_error(http.post("/v1/explain/fields?layer=conv2_block1_out&row=56&col=0"), 422)
    assert_one_line_error(http.post("/v1/explain/fields?layer=predictions"), 422)
    assert_one_line_error(http.post("/v1/explain/nothing", content=npy(crop)), 404)


def test_training_runs_one_lab_run_under_the_servers_limits(http, monkeypatch):
    settings = {"arch": "resnet20", "variants": ["residual"], "steps": 2, "batch_size": 8, "holdout": 0.05,
                "data": "offline"}
    document = http.post("/v1/train", content=json.dumps(settings)).json()
    assert [r["step"] for r in document["records"]] == [1, 2] and "resnet20" in document["nets"]
    monkeypatch.setenv("RESNET_MAX_STEPS", "5")
    assert "RESNET_MAX_STEPS" in assert_one_line_error(http.post("/v1/train", content=json.dumps(
        {**settings, "steps": 6})), 422)
    assert "data" in assert_one_line_error(http.post("/v1/train", content=json.dumps(
        {**settings, "data": "/etc"})), 422)
    assert "unknown" in assert_one_line_error(http.post("/v1/train", content=b'{"cmd": "rm"}'), 422)
    assert assert_one_line_error(http.post("/v1/train", content=b"{not json"), 400)
    with pytest.raises(Exception, match="integer|int"):
        run_config({"steps": "many"})
