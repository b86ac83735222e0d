"""resnet/openvino_options.py: the compile options and the outputs' places, shared by the in-process engine and the
lecture hall's Answer replica, on a small network made with OpenVINO's own operations (no TensorFlow)."""

import numpy as np
import pytest

from resnet.openvino_options import HINTS, compile_config, output_places

openvino = pytest.importorskip("openvino")


@pytest.mark.parametrize("hint", HINTS)
def test_fp32_is_asked_for_explicitly_and_bf16_only_when_wanted(hint):
    assert compile_config("fp32", hint) == {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": hint.upper()}
    assert compile_config("bf16", hint)["INFERENCE_PRECISION_HINT"] == "bf16"


def test_an_unknown_hint_is_refused():
    with pytest.raises(ValueError, match="hint must be one of"):
        compile_config("fp32", "fastest")


@pytest.mark.parametrize("features_first", [True, False])
def test_the_outputs_are_found_by_rank_whatever_their_order(features_first):
    from openvino import opset13 as ops

    pixels = ops.parameter([1, 7, 7, 4], np.float32, name="input")
    features = ops.relu(pixels)
    probabilities = ops.softmax(ops.reduce_mean(features, ops.constant(np.array([1, 2])), keep_dims=False), 1)
    outputs = [features, probabilities] if features_first else [probabilities, features]
    compiled = openvino.Core().compile_model(openvino.Model(outputs, [pixels]), "CPU",
                                             compile_config("fp32", "latency"))
    at_probabilities, at_features = output_places(compiled)
    result = compiled(np.random.default_rng(0).random((1, 7, 7, 4), np.float32))
    assert result[at_probabilities].shape == (1, 4) and result[at_features].shape == (1, 7, 7, 4)
    np.testing.assert_allclose(result[at_probabilities].sum(), 1.0, rtol=1e-5)

    alone = openvino.Core().compile_model(openvino.Model([probabilities], [pixels]), "CPU")
    assert output_places(alone) == (0, None)
