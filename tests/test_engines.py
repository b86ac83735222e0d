"""resnet.engines: every engine gives TensorFlow's probabilities; which engine and precision are chosen, and when.

Hardware this machine lacks (a GPU, bf16 instructions) is described to the choosing functions as plain values, so
the GPU and bf16 paths are decided and tested here too; the engines themselves run on this CPU.
"""

import gc
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np
import pytest

import resnet
from resnet import devices, engines, images
from resnet.devices import Gpu
from resnet.errors import UserError
from resnet.inference import Classifier, sample_images
from tests.conftest import randomise

SAMPLES = Path(__file__).resolve().parents[1] / "assets" / "samples"
H100 = Gpu("NVIDIA H100 80GB HBM3", (9, 0))


@pytest.fixture(scope="module")
def model(official_resnet50_h5):
    return resnet.build("resnet50", weights=str(official_resnet50_h5))


@pytest.fixture(scope="module")
def sample_batch():
    crops = [images.crop_for_model(images.read_image_file(path)) for path in sorted(SAMPLES.glob("*.jpg"))[:3]]
    return images.preprocess(np.stack(crops), "caffe")


@pytest.fixture(scope="module")
def expected(model, sample_batch):
    probabilities = model(sample_batch, training=False).numpy()
    assert probabilities.max() > 0.05  # peaked enough that agreeing means something
    return probabilities


# --- every engine computes what TensorFlow computes -----------------------------------------------------------------


def test_folded_batch_norm_matches_the_original(model, sample_batch, expected):
    folded = engines.fold_batch_norm(model)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    assert len(engines.foldable_pairs(model)) == 53  # every BN of ResNet-50 follows its conv
    np.testing.assert_allclose(folded(sample_batch, training=False).numpy(), expected, rtol=0, atol=1e-4)


def test_folding_keeps_pre_activation_batch_norm_of_v2_nets():
    model = randomise(resnet.build("resnet50v2", input_shape=(64, 64, 3)), seed=4)
    pairs = engines.foldable_pairs(model)
    assert "conv2_block1_1_bn" in pairs and "conv2_block1_preact_bn" not in pairs
    folded = engines.fold_batch_norm(model)
    assert isinstance(folded.get_layer("conv2_block1_preact_bn"), keras.layers.BatchNormalization)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(folded(x).numpy(), model(x, training=False).numpy(), rtol=0, atol=1e-4)


def test_openvino_matches_tensorflow_in_fp32(model, sample_batch, expected):
    engine = engines.make_engine(model, "openvino", "fp32")
    assert (engine.name, engine.precision) == ("openvino", "fp32") and engine.device.startswith("CPU")
    np.testing.assert_allclose(engine(sample_batch), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", engines.runnable_here())
def test_every_engine_of_the_table_answers_with_the_last_feature_map_beside_the_probabilities(model, sample_batch,
                                                                                              expected, name):
    engine = engines.make_engine(model, name, "fp32")
    probabilities, features = engine.answer(sample_batch)
    assert engine.name == name and engine.feature_layer == "conv5_block3_out"
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-5)
    reference = keras.Model(model.input, model.get_layer("conv5_block3_out").output)(sample_batch).numpy()
    assert features.shape == (3, 7, 7, 2048) and features.dtype == np.float32
    np.testing.assert_allclose(features, reference, rtol=1e-4, atol=1e-4 * np.abs(reference).max())


def test_the_table_says_which_engine_the_app_converts_in_the_background():
    assert engines.ENGINES == ("auto", *engines.KINDS)
    assert [name for name, kind in engines.KINDS.items() if kind.converts] == ["openvino"]
    assert all(kind.setup_s > 0 and 0 < kind.per_photo_s < kind.setup_s for kind in engines.KINDS.values())


@pytest.mark.parametrize("mode", images.PREPROCESSING_MODES)
def test_openvino_taking_uint8_pixels_scales_them_as_preprocess_does(mode):
    """The answering engine's in-graph preprocessing against images.preprocess (Keras's preprocess_input, or the
    lab's input), on a small random net whose answers move with every pixel's scaling."""
    model = randomise(resnet.build("resnet18", input_shape=(64, 64, 3), classes=10), seed=2)
    pixels = np.random.default_rng(1).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    takes_pixels = engines.make_engine(model, "openvino", "fp32", pixels=mode)
    takes_floats = engines.make_engine(model, "openvino", "fp32")
    assert takes_pixels.takes_pixels and not takes_floats.takes_pixels
    expected = model(images.preprocess(pixels, mode), training=False).numpy()
    np.testing.assert_allclose(takes_pixels(pixels), expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(takes_floats(images.preprocess(pixels, mode)), expected, rtol=0, atol=1e-5)
    if mode != "lab":  # a flip or a shifted mean is not a no-op: the wrong scaling would be caught
        wrong = "tf" if mode == "caffe" else "caffe"
        assert np.abs(model(images.preprocess(pixels, wrong), training=False).numpy() - expected).max() > 1e-3


def test_openvino_converts_the_tensorflow_engine_it_is_given(model, sample_batch, expected):
    # The app's first engine, already traced: OpenVINO folds its BatchNorms itself, no folded twin is made.
    source = engines.make_engine(model, "tf", "fp32")
    engine = engines.make_engine(model, "openvino", "fp32", source=source)
    np.testing.assert_allclose(engine(sample_batch), source(sample_batch), rtol=0, atol=1e-5)


def test_bf16_keeps_the_top1_and_four_of_the_top5_on_every_sample_photo(model):
    # TensorFlow's bf16 (emulated on a CPU without the instructions: slow, but the same arithmetic) on the folded
    # net, the path a GPU takes; OpenVINO's bf16 is checked where the CPU has it (`python -m resnet bench`).
    fp32 = engines.make_engine(model, "tf-folded", "fp32")
    bf16 = engines.make_engine(model, "tf-folded", "bf16")
    assert bf16.precision == "bf16"
    assert any(layer.dtype_policy.name == "mixed_bfloat16" for layer in bf16.model.layers)
    for path in sample_images().values():
        x = images.preprocess(images.crop_for_model(images.read_image_file(path))[np.newaxis], "caffe")
        p32, p16 = fp32(x)[0], bf16(x)[0]
        assert p16.dtype == np.float32 and abs(p16.sum() - 1) < 1e-3
        assert np.argmax(p16) == np.argmax(p32), path.name
        assert len(set(np.argsort(-p32)[:5]) & set(np.argsort(-p16)[:5])) >= 4, path.name
        assert 0 < np.abs(p32 - p16).max() < 0.02  # bf16 really computed, and close


@pytest.mark.skipif(devices.bf16_unavailable() is not None, reason="this CPU computes no bf16 in hardware")
def test_openvino_bf16_keeps_the_top1_and_four_of_the_top5_on_every_sample_photo(model):
    fp32 = engines.make_engine(model, "openvino", "fp32")
    bf16 = engines.make_engine(model, "openvino", "bf16")
    for path in sample_images().values():
        x = images.preprocess(images.crop_for_model(images.read_image_file(path))[np.newaxis], "caffe")
        p32, p16 = fp32(x)[0], bf16(x)[0]
        assert np.argmax(p16) == np.argmax(p32), path.name
        assert len(set(np.argsort(-p32)[:5]) & set(np.argsort(-p16)[:5])) >= 4, path.name
        assert 0 < np.abs(p32 - p16).max() < 0.02, path.name


def test_openvino_owns_its_weights_once_the_tensorflow_net_it_came_from_is_freed(model, sample_batch, expected):
    folded = engines.make_engine(model, "tf-folded", "fp32")
    engine = engines.OpenVinoEngine(folded, "fp32")
    del folded  # as the app's classifier does once converted
    gc.collect()
    reused = [np.full((1024, 1024), np.nan, np.float32) for _ in range(600)]  # the freed memory goes back into use
    np.testing.assert_allclose(engine(sample_batch), expected, rtol=0, atol=1e-5)
    del reused


@pytest.mark.parametrize("hint", engines.HINTS)
def test_threads_sharing_an_openvino_engine_each_get_their_own_answer(model, sample_batch, expected, hint):
    # A class's sessions call one engine from many threads; OpenVINO's CompiledModel.__call__ reuses one infer
    # request, whose input and output buffers two threads would overwrite. In throughput mode they compute at once.
    engine = engines.make_engine(model, "openvino", "fp32", hint=hint)
    if hint == "latency":
        assert engine.parallel == 1
    else:  # OpenVINO's streams: one a core here, each call on cores of its own
        assert engine.parallel >= min(2, os.cpu_count())
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda i: engine(sample_batch[i % 3][np.newaxis])[0], range(36)))
    for i, answer in enumerate(answers):
        np.testing.assert_allclose(answer, expected[i % 3], rtol=0, atol=1e-5, err_msg=f"call {i}")


# --- which engine -----------------------------------------------------------------------------------------------------


def test_auto_is_openvino_on_a_cpu_and_folded_tensorflow_on_a_gpu_or_without_openvino():
    assert engines.resolve_engine("auto", gpu=False, openvino=True) == "openvino"
    assert engines.resolve_engine("auto", gpu=True, openvino=True) == "tf-folded"
    assert engines.resolve_engine("auto", gpu=False, openvino=False) == "tf-folded"
    assert engines.resolve_engine("tf", gpu=True, openvino=True) == "tf"
    with pytest.raises(ValueError):
        engines.resolve_engine("onnx")


def test_the_cli_converts_only_for_enough_photos_to_earn_the_conversion_back():
    assert engines.engine_for_photos(1, gpu=False, openvino=True) == "tf"
    assert engines.engine_for_photos(1000, gpu=False, openvino=True) == "openvino"
    assert engines.engine_for_photos(1000, gpu=True, openvino=True) != "openvino"  # OpenVINO would skip the GPU
    break_even = next(n for n in range(1, 10_000) if engines.engine_for_photos(n, gpu=False, openvino=True) != "tf")
    # What the choice promises: below break-even nothing converts, from there the conversion has paid for itself.
    cost = {name: kind.setup_s + break_even * kind.per_photo_s for name, kind in engines.KINDS.items()}
    assert cost[engines.engine_for_photos(break_even, gpu=False, openvino=True)] <= cost["tf"]
    assert 10 < break_even < 1000


def test_environment_variables_pick_the_defaults_and_unknown_values_are_refused(monkeypatch):
    monkeypatch.setenv("RESNET_ENGINE", "tf-folded")
    monkeypatch.setenv("RESNET_PRECISION", "bf16")
    assert (engines.default_engine(), engines.default_precision()) == ("tf-folded", "bf16")
    for variable, value in (("RESNET_ENGINE", "onnx"), ("RESNET_PRECISION", "fp8")):
        monkeypatch.setenv(variable, value)
        with pytest.raises(UserError, match=variable):
            engines.default_engine() if variable == "RESNET_ENGINE" else engines.default_precision()


def test_bf16_is_refused_where_it_would_be_slow_unless_tensorflow_is_named():
    reason = devices.bf16_unavailable()
    if reason is None:
        engines.check_precision("bf16", "auto")  # offered: nothing to refuse
    else:
        with pytest.raises(UserError, match="bf16 is not offered here") as info:
            engines.check_precision("bf16", "auto")
        assert reason in str(info.value) and "\n" not in str(info.value)
    engines.check_precision("bf16", "tf-folded")  # asked for by name: emulated, allowed
    with pytest.raises(UserError):
        engines.check_precision("int4", "tf")


# --- the app's classifier answers at once and switches when the conversion is done -----------------------------------


def test_a_background_classifier_answers_with_tensorflow_then_switches_to_openvino(model):
    photo = (SAMPLES / "cat_chelsea.jpg").read_bytes()
    classifier = Classifier(model, pretrained=True, weights_source="test", arch="resnet50", engine="auto",
                            precision="fp32", background=True, hint="throughput")  # as the app makes it
    first = classifier.classify_each([("cat", photo)])[0]
    assert classifier.switched.wait(120)
    after = classifier.classify_each([("cat", photo)])[0]
    assert first.engine in ("tf", "openvino") and after.engine == "openvino"
    assert classifier.engine.hint == "throughput"
    assert [s.index for s in first.top] == [s.index for s in after.top]
    # Plain TensorFlow in graph mode (its own conv+BatchNorm fusions) against OpenVINO on the folded net: the
    # rounding of two kernel libraries over 50 layers, as between the folded and unfolded nets above.
    np.testing.assert_allclose([s.probability for s in first.top], [s.probability for s in after.top], atol=2e-4)
    assert classifier.ready_precisions() == ("fp32",)  # no bf16 engine (160 MB) until someone asks for bf16
    if devices.bf16_unavailable():  # asked for bf16 where it is not fast: refused in one line
        with pytest.raises(UserError, match="bf16"):
            classifier.classify_each([("cat", photo)], precision="bf16")
        return
    meanwhile = classifier.classify_each([("cat", photo)], precision="bf16")[0]
    assert (meanwhile.engine, meanwhile.precision) == ("openvino", "fp32")  # at once, and it says what it computed
    deadline = time.monotonic() + 120
    while "bf16" not in classifier.ready_precisions() and time.monotonic() < deadline:
        time.sleep(0.2)
    later = classifier.classify_each([("cat", photo)], precision="bf16")[0]
    assert (later.engine, later.precision) == ("openvino", "bf16") and later.top[0].index == after.top[0].index


def test_converting_reports_nothing_home_and_starts_no_process(tmp_path, monkeypatch):
    # OpenVINO's converter would otherwise fork the process to send telemetry and write its id into ~/intel.
    import multiprocessing

    monkeypatch.setenv("HOME", str(tmp_path))
    inputs = keras.Input((8, 8, 3))
    tiny = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(
        keras.layers.Conv2D(4, 3)(inputs))))
    engine = engines.OpenVinoEngine(engines.TensorFlowEngine(tiny))
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(engine(x), tiny(x).numpy(), atol=1e-6)
    assert list(tmp_path.iterdir()) == [] and multiprocessing.active_children() == []
