"""The page's side of the network tier (resnet.serving.client): RemoteClassifier answers as the roles do, rebuilds
the library's objects, retries an idempotent request once, and says in one line when the tier is down."""

import socket

import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from resnet import images, paths
from resnet.answers import Prediction
from resnet.errors import ImageError, UserError
from resnet.serving.client import RemoteClassifier, ServeClient, ServeUnavailable
from tests.serving_support import served
from tests.fresh_python import loaded, run_python


@pytest.fixture(scope="module")
def remote(local_tier):
    return RemoteClassifier(local_tier)


def test_the_remote_classifier_knows_the_tiers_network(remote, answer_role):
    assert remote.arch_name == "resnet50" and remote.pretrained is True and remote.weights_problem is None
    assert remote.input_size == (224, 224) and remote.labels[281][1] == "tabby"
    assert remote.precisions() == answer_role.precisions() and "fp32" in remote.ready_precisions()
    with remote.explaining():
        pass


def test_classify_each_answers_as_the_role_and_keeps_a_bad_file_in_its_place(remote, answer_role):
    data = paths.FIRST_SAMPLE.read_bytes()
    results = remote.classify_each([("cat.jpg", data), ("notes.txt", b"not a photo"), ("again.jpg", data)], top=5)
    assert isinstance(results[1], ImageError) and "notes.txt" in str(results[1])
    first, third = results[0], results[2]
    assert isinstance(first, Prediction) and first.source == "cat.jpg" and first.pretrained
    expected = answer_role.predict(data, top=5)
    assert first.top == expected.top and third.top == expected.top
    np.testing.assert_array_equal(first.crop, expected.crop)
    for index, heat_map in expected.cams.items():
        np.testing.assert_allclose(first.cams[index], heat_map, atol=1e-6)
    assert first.cam_layer == "conv5_block3_out" and first.engine == "openvino"
    many = remote.classify_each([(f"{i}.jpg", data) for i in range(images.MAX_PHOTOS + 1)])
    assert isinstance(many[-1], ImageError) and all(isinstance(p, Prediction) for p in many[:-1])


def test_explanations_come_back_as_the_librarys_objects(remote, explain_role):
    from resnet.explaining import Explainer

    prediction = remote.classify([paths.FIRST_SAMPLE.read_bytes()], names=["cat"])[0]
    best = prediction.top[0].index
    assert remote.grad_cam(prediction, best) is prediction.cams[best]  # the answer's own map: no request
    heat_map = remote.grad_cam(prediction, best, "conv3_block4_out")
    expected = Explainer(explain_role.model).grad_cam(prediction.model_input, best, "conv3_block4_out")
    np.testing.assert_allclose(heat_map, expected, atol=1e-5)
    maps = remote.feature_maps(prediction, "conv5_block3_out", limit=3)
    assert maps.maps.shape == (3, 7, 7) and maps.layer == "conv5_block3_out"
    signals = remote.shortcuts(prediction)
    assert len(signals) == 16 and signals[0].block == "conv2_block1" and signals[0].ratio > 0
    lesions = remote.lesions(prediction, [("conv4_block2",)])
    assert lesions.removed[-1] == ("conv4_block2",) and lesions.lesioned.shape == (17, 1000)
    fields = remote.fields(None, "conv2_block1_out", (3, 4))
    assert fields["position"] == (3, 4) and fields["residual"].box == fields["box"]
    assert fields["plain"].heat.shape == (224, 224)
    with pytest.raises(UserError, match="no layer"):
        remote.feature_maps(prediction, "no_such_layer")


def test_a_tier_that_is_down_is_one_line_after_one_retry():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()  # nothing listens there now
    client = ServeClient(url)
    with pytest.raises(ServeUnavailable) as caught:
        RemoteClassifier(client=client)
    assert "not answering" in str(caught.value) and "\n" not in str(caught.value)
    assert client.retries == 1
    with pytest.raises(UserError, match="http://"):
        ServeClient("127.0.0.1:8000")


def test_an_idempotent_request_is_retried_once_after_a_500_and_a_training_run_is_not():
    calls = {"health": 0, "train": 0}

    async def health(request):
        calls["health"] += 1
        if calls["health"] == 1:  # as a replica killed in the middle of the request
            return JSONResponse({"error": "replica died"}, status_code=500)
        return JSONResponse({"status": "ok"})

    async def train(request):
        calls["train"] += 1
        return JSONResponse({"error": "replica died"}, status_code=500)

    app = Starlette(routes=[Route("/v1/health", health), Route("/v1/train", train, methods=["POST"])])
    with served(app) as url:
        client = ServeClient(url)
        assert client.request("GET", "/v1/health") == {"status": "ok"}
        assert calls["health"] == 2 and client.retries == 1
        with pytest.raises(ServeUnavailable, match="replica died"):
            client.request("POST", "/v1/train", body=b"{}", idempotent=False)
        assert calls["train"] == 1


def test_the_pages_side_and_the_ingress_import_no_tensorflow(local_tier):
    code = ("import sys\n"
            "from resnet.serving.client import RemoteClassifier\n"
            "import resnet.serving.api  # the ingress replica's code: TensorFlow-free too\n"
            f"remote = RemoteClassifier({local_tier!r})\n"
            "from resnet import paths\n"
            "[prediction] = remote.classify_each([('cat', paths.FIRST_SAMPLE.read_bytes())])\n"
            "assert len(prediction.cams) == 5 and remote.shortcuts(prediction)\n"
            + loaded(("tensorflow", "keras", "openvino", "ray")))
    assert run_python(code, timeout=300) == "none"
