"""Shared fixtures. The big models are built once per session; weight files are made here, never downloaded."""

import atexit
import contextlib
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The suite meets this machine as a newcomer would, however full ~/.cache and ~/.keras are: its own empty cache and
# Keras home (set before anything imports keras, which reads KERAS_HOME once), inherited by the app the browser tests
# start. Weights are never fetched: the origin is an empty folder, so every run sees the same "no weights" answer.
# RESNET_WEIGHTS / RESNET_WEIGHTS_DIR, if you set them, are left alone.
FRESH_HOME = Path(tempfile.mkdtemp(prefix="resnet-explorer-tests-"))
atexit.register(shutil.rmtree, FRESH_HOME, ignore_errors=True)
os.environ.update(RESNET_CACHE_DIR=str(FRESH_HOME / "resnet-explorer"), XDG_CACHE_HOME=str(FRESH_HOME / "cache"),
                  KERAS_HOME=str(FRESH_HOME / "keras"), RESNET_WEIGHTS_ORIGIN=(FRESH_HOME / "no-mirror").as_uri())

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`make test` runs on two workers (pytest-xdist). Each gets whole modules, so a module's fixtures (a Ray
    cluster, a trained pair) are built once; the browser tests all go to one worker and share its app server, one test
    at a time as without xdist. (Its own --dist loadgroup cannot say this under pytest 9: it renames node ids.)"""
    from xdist.scheduler import LoadScopeScheduling  # noqa: PLC0415 -- only where xdist runs the suite

    class ModulesAndOneBrowser(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "tests/e2e" if module.startswith("tests/e2e/") else module

    return ModulesAndOneBrowser(config, log)


def run_together(*calls) -> None:
    """Run each call in a thread of its own, all started at once; wait for all, then raise the first exception any
    of them raised (a failure in a thread would otherwise only be printed)."""
    errors = []

    def guarded(call):
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 -- re-raised below, in the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


class AtOnce:
    """How many threads were inside `hold()` at the same time, at most. Each stays `seconds`, long enough for the
    others to arrive while it is inside, so that nothing but a lock can keep them apart."""

    def __init__(self, seconds: float = 0.05):
        self.seconds, self.inside, self.most, self._lock = seconds, 0, 0, threading.Lock()

    @contextlib.contextmanager
    def hold(self):
        with self._lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        try:
            time.sleep(self.seconds)
            yield
        finally:
            with self._lock:
                self.inside -= 1


def randomise(model, seed=0, logit_std=5.0):
    """Give every weight of `model` a random value, BatchNorm moving statistics included.

    The classifier is then scaled so that its logits spread by `logit_std` on arbitrary inputs: the softmax is far
    from uniform (two networks that disagree disagree visibly) yet not one-hot (the top-5 is not a tie of zeros).
    """
    import keras

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = []
        for w in layer.weights:
            shape, path = tuple(w.shape), w.path
            if path.endswith(("gamma", "moving_variance")):
                values.append(rng.uniform(0.5, 1.5, shape))
            elif path.endswith(("beta", "moving_mean", "bias")):
                values.append(rng.normal(0.0, 0.1, shape))
            else:  # kernels: variance-preserving, so deep activations neither vanish nor blow up
                fan_in = int(np.prod(shape[:-1]))
                values.append(rng.normal(0.0, np.sqrt(2.0 / fan_in), shape))
        if values:
            layer.set_weights([v.astype("float32") for v in values])
    top = model.layers[-1]
    if isinstance(top, keras.layers.Dense):
        probe = rng.normal(0.0, 50.0, (4, *model.input.shape[1:])).astype("float32")
        features = keras.Model(model.input, top.input)(probe).numpy()
        kernel, bias = top.get_weights()
        logits = features @ kernel
        top.set_weights([kernel * (logit_std / logits.std()), bias])
    return model


def save_legacy_h5(model, path):
    """Save weights in the legacy (Keras 2) .h5 layout that keras.applications' official files use."""
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path


@pytest.fixture(scope="session")
def images():
    """A small batch of arbitrary inputs in the caffe-preprocessed range."""
    return np.random.default_rng(1).normal(0.0, 50.0, (2, 64, 64, 3)).astype("float32")


@pytest.fixture(scope="session")
def official_resnet50_h5(tmp_path_factory):
    """A file laid out like resnet50_weights_tf_dim_ordering_tf_kernels.h5, made from keras.applications with
    random weights, under the official file name."""
    import keras

    reference = randomise(keras.applications.ResNet50(weights=None), seed=3)
    folder = tmp_path_factory.mktemp("weights")
    path = folder / "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
    save_legacy_h5(reference, path)
    return path


@pytest.fixture()
def image_folder_factory():
    """Makes a folder of two classes, cats (reddish) and dogs (bluish), five small PNGs each."""
    from PIL import Image

    def make(folder):
        rng = np.random.default_rng(0)
        for name, colour in (("cats", (200, 40, 40)), ("dogs", (40, 40, 200))):
            (folder / name).mkdir(parents=True)
            for i in range(5):
                pixels = np.clip(np.array(colour) + rng.normal(0, 10, (20, 24, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / name / f"{i}.png")
        return folder

    return make


@pytest.fixture()
def image_folder(tmp_path, image_folder_factory):
    return image_folder_factory(tmp_path)


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No weights anywhere: an empty Keras cache and an origin that cannot serve the file."""
    for name in ("RESNET_WEIGHTS", "RESNET_WEIGHTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("RESNET_WEIGHTS_ORIGIN", (tmp_path / "no-mirror").as_uri())


@pytest.fixture(scope="session")
def trained_pair():
    """ResNet-20 and plain-20 after a few steps on the offline shapes, judged on 40 held-out images (4 a class): the
    lab's trained nets, small enough to measure in seconds."""
    from resnet.training import Run, RunConfig

    run = Run(RunConfig(arch="resnet20", steps=4, batch_size=16, holdout=0.01, learning_rate=0.05))
    for _ in run.steps():
        pass
    return run.trained()


def keras_evaluate(model, images, labels):
    """Keras' own loss and accuracy of `model` on lab images in [0, 1] (a compiled copy, so `model` stays as it
    was): the independent computation the lab's held-out numbers are checked against."""
    import keras

    from resnet.datasets import lab_input

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    copy.compile(loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    scores = copy.evaluate(lab_input(images), labels, batch_size=64, verbose=0, return_dict=True)
    return scores["loss"], scores["accuracy"]


@pytest.fixture(scope="session")
def answer_ir(official_resnet50_h5, tmp_path_factory):
    """The network tier's Answer IR of ResNet-50 with `official_resnet50_h5`'s arbitrary weights, exported once per
    session (in a TensorFlow process of its own, as a replica's first start does)."""
    from resnet.serving.answer import choose_weights, ensure_ir

    return ensure_ir("resnet50", choose_weights("resnet50", str(official_resnet50_h5)),
                     cache=tmp_path_factory.mktemp("serve-cache"))


@pytest.fixture(scope="session")
def reference_classifier(official_resnet50_h5):
    """The in-process Classifier (TensorFlow, the reference engine) on `official_resnet50_h5`'s weights."""
    from resnet.inference import Classifier

    return Classifier.load("resnet50", str(official_resnet50_h5), engine="tf", warm_up=False)


@pytest.fixture(scope="session")
def answer_role(answer_ir):
    """The Answer role on `answer_ir`, built once per session."""
    from resnet.serving.answer import Answer

    return Answer(folder=answer_ir)


@pytest.fixture(scope="session")
def explain_role(official_resnet50_h5):
    """The network tier's Explain role on ResNet-50 with `official_resnet50_h5`'s weights, built once per session."""
    from resnet.serving.explain import Explain

    return Explain("resnet50", str(official_resnet50_h5))


@pytest.fixture(scope="session")
def local_tier(answer_role, explain_role):
    """The HTTP API on the roles in this process (Train included), served on 127.0.0.1 for the session: its URL."""
    from resnet.serving.api import LocalBackend, create_app
    from resnet.serving.train import Train
    from tests.serving_support import served

    with served(create_app(LocalBackend(answer=answer_role, explain=explain_role, train=Train()))) as url:
        yield url
