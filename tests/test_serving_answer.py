"""The network tier's Answer role (resnet.serving.answer): an OpenVINO IR with its preprocessing inside, answering as
the in-process Classifier does, in a process that never loads TensorFlow."""

import json

import numpy as np
import pytest

from resnet import images, paths
from resnet.errors import ImageError, UserError
from resnet.serving.answer import WeightsChoice, choose_weights
from resnet.engines import with_pixel_steps
from resnet.serving.export import MANIFEST
from resnet.weights import MD5
from tests.fresh_python import loaded, run_python


@pytest.fixture(scope="module")
def crops():
    """Three arbitrary crops (seeded noise over a smooth gradient, so that the network sees structure)."""
    rng = np.random.default_rng(7)
    ramp = np.linspace(0, 255, 224)[None, :, None] * np.ones((224, 1, 3))
    return np.clip(ramp + rng.normal(0, 60, (3, 224, 224, 3)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("mode", images.PREPROCESSING_MODES)
def test_the_preprocessing_inside_the_ir_is_keras_preprocess_input(mode):
    import openvino

    pixels = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    parameter = openvino.op.Parameter(openvino.Type.f32, openvino.PartialShape([-1, 8, 8, 3]))
    identity = openvino.Model([openvino.op.Result(parameter.output(0))], [parameter])
    compiled = openvino.Core().compile_model(with_pixel_steps(identity, mode), "CPU",
                                             {"INFERENCE_PRECISION_HINT": "f32"})
    inside = compiled(pixels)[0]
    np.testing.assert_allclose(inside, images.preprocess(pixels, mode), atol=1e-4)


def test_every_architecture_names_its_imagenet_file_after_itself():
    # choose_weights reads the table's imagenet_weights as the architecture's own name, without importing the table
    from resnet.architectures import ARCHITECTURES

    for name, arch in ARCHITECTURES.items():
        assert arch.imagenet_weights in (None, name), name
        assert (arch.imagenet_weights is not None) == (name in MD5), name


def test_without_weights_the_answer_role_says_why_and_chooses_random_ones(offline):
    choice = choose_weights("resnet50")
    assert choice.path is None and "resnet50" in choice.problem
    assert choice.key("resnet50") == "resnet50-random-seed-0"
    assert choose_weights("resnet20").problem == "resnet20 has no published ImageNet weights"
    with pytest.raises(UserError, match="does not exist"):
        choose_weights("resnet50", "/nowhere/weights.h5")


def test_the_ir_folder_is_keyed_by_the_weights_md5(official_resnet50_h5, answer_ir):
    from resnet.weights import md5_of

    assert answer_ir.name == f"resnet50-{md5_of(official_resnet50_h5)}"
    manifest = json.loads((answer_ir / MANIFEST).read_text())
    assert manifest["pretrained"] is True and manifest["cam_layer"] == "conv5_block3_out"
    assert WeightsChoice(None, 3).key("resnet50") != WeightsChoice(None, 4).key("resnet50")


def test_answers_equal_the_in_process_classifiers(reference_classifier, answer_role, crops):
    reference = reference_classifier
    expected = reference.classify(list(crops), top=5)
    answered = answer_role.answer(crops, top=5)
    engine_probabilities, _ = reference.engine.answer(images.preprocess(crops, "caffe"))
    assert len(answered) == 3
    for mine, theirs, row in zip(answered, expected, engine_probabilities, strict=True):
        assert [s.index for s in mine.top] == [s.index for s in theirs.top]
        for score in mine.top:
            assert abs(score.probability - row[score.index]) <= 1e-5
        assert mine.pretrained and mine.cam_layer == theirs.cam_layer == "conv5_block3_out"
        assert set(mine.cams) == set(theirs.cams) == {s.index for s in mine.top}
        for index, heat_map in mine.cams.items():
            assert heat_map.shape == (7, 7)
            np.testing.assert_allclose(heat_map, theirs.cams[index], atol=1e-5)
    assert len({s.top[0].index for s in answered}) >= 1 and answered[0].top[0].probability < 0.999


def test_a_photo_is_decoded_and_cropped_as_the_page_does(answer_role):
    data = paths.FIRST_SAMPLE.read_bytes()
    prediction = answer_role.predict(data, top=3, name="cat.jpg")
    crop = images.crop_for_model(images.decode_image(data), (224, 224))
    np.testing.assert_array_equal(prediction.crop, crop)
    assert [s.index for s in prediction.top] == [s.index for s in answer_role.answer(crop[None], top=3)[0].top]
    assert prediction.source == "cat.jpg" and len(prediction.top) == 3
    with pytest.raises(ImageError, match="not an image"):
        answer_role.predict(b"hello, not a photo", name="note.txt")


def test_wrong_crops_and_precisions_are_refused_in_one_line(answer_role, crops):
    for bad in (crops.astype(np.float32), crops[:, :100], crops[0], np.zeros((images.MAX_PHOTOS + 1, 224, 224, 3),
                                                                           np.uint8)):
        with pytest.raises(UserError) as caught:
            answer_role.answer(bad)
        assert "\n" not in str(caught.value)
    if "bf16" not in answer_role.precisions():
        with pytest.raises(UserError, match="not offered"):
            answer_role.answer(crops[:1], precision="bf16")


def test_the_answer_process_imports_no_tensorflow(answer_ir):
    code = ("import sys\n"
            "from resnet.serving.answer import Answer\n"
            f"answer = Answer(folder={str(answer_ir)!r})\n"
            "import numpy as np\n"
            "prediction = answer.answer(np.zeros((2, 224, 224, 3), np.uint8))[0]\n"
            "assert len(prediction.cams) == 5, prediction\n"
            + loaded(("tensorflow", "keras", "jax")))
    assert run_python(code, timeout=300) == "none"
