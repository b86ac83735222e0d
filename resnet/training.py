"""Short training runs that show what shortcuts do to gradients: a residual net and its plain twin, side by side.

The train step is one `tf.function`: forward pass, one `tape.gradient`, the optimiser's update, and the L2 norm of
the gradient of every kernel (convolutions and the classifier, one per layer, in depth order) taken from those very
gradient tensors. A run is a generator of per-step records, so the page can draw as steps finish and stop at any
step while keeping what was done; `BackgroundRun` drives that generator in a thread for the app.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Callable, Iterator

import numpy as np
import tensorflow as tf
import keras

import resnet
from resnet.datasets import lab_input, open_data, random_batch
from resnet.errors import RunRefused, UnknownArchitecture
from resnet.heldout import evaluate
from resnet.limits import Limits, RunRegistry
from resnet.lab_measures import measure
from resnet.trained import TrainedNet

_OPTIMIZER_MAKERS = {
    "sgd": lambda learning_rate: keras.optimizers.SGD(learning_rate),
    "momentum": lambda learning_rate: keras.optimizers.SGD(learning_rate, momentum=0.9),
    "adam": lambda learning_rate: keras.optimizers.Adam(learning_rate),
}
OPTIMIZERS = tuple(_OPTIMIZER_MAKERS)
INITIALIZERS = ("he_normal", "glorot_uniform")
VARIANTS = ("residual", "plain")
# The lab's nets and the image side they train at: the rows of the architecture table that name one.
LAB_IMAGE_SIZES = {name: arch.lab_image_size for name, arch in resnet.ARCHITECTURES.items() if arch.lab_image_size}


def check_optimizer(name: str, learning_rate: float) -> None:
    """Refuse an optimiser that `make_optimizer` cannot make."""
    if name not in OPTIMIZERS:
        raise RunRefused(f"unknown optimiser {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    if learning_rate <= 0:
        raise RunRefused(f"learning rate must be positive, not {learning_rate}")


def make_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    check_optimizer(name, learning_rate)
    return _OPTIMIZER_MAKERS[name](learning_rate)


def kernel_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Layers with a trainable kernel (convolutions, dense), in the order the forward pass meets them."""
    return [layer for layer in model.layers if getattr(layer, "kernel", None) is not None and layer.trainable]


def _kernel_positions(model: keras.Model) -> list[int]:
    """Where each kernel of `kernel_layers` sits in `model.trainable_variables` (and so in the gradient list)."""
    index = {id(variable): i for i, variable in enumerate(model.trainable_variables)}
    return [index[id(layer.kernel)] for layer in kernel_layers(model)]


def _centred(images) -> tf.Tensor:
    return tf.convert_to_tensor(lab_input(images))


_cross_entropy = keras.losses.SparseCategoricalCrossentropy()


def _loss_accuracy_gradients(model: keras.Model, images, labels):
    with tf.GradientTape() as tape:
        probabilities = model(images, training=True)
        loss = _cross_entropy(labels, probabilities)
        if model.losses:  # weight decay of the Model Garden row
            loss += tf.add_n(model.losses)
    gradients = tape.gradient(loss, model.trainable_variables)
    hits = tf.equal(tf.argmax(probabilities, axis=-1, output_type=tf.int32), tf.cast(labels, tf.int32))
    return loss, tf.reduce_mean(tf.cast(hits, tf.float32)), gradients


class TrainStep:
    """One compiled optimiser step on `model`; with `track_norms`, it also returns every kernel's gradient norm.

    The norms are `tf.norm` of the same gradient tensors handed to `apply_gradients`, inside the same graph.
    """

    def __init__(self, model: keras.Model, optimizer: keras.optimizers.Optimizer, *, track_norms: bool = True,
                 jit_compile: bool = False):
        self.model, self.optimizer = model, optimizer
        self.layer_names = [layer.name for layer in kernel_layers(model)]
        positions = _kernel_positions(model)
        optimizer.build(model.trainable_variables)

        def step(images, labels):
            loss, accuracy, gradients = _loss_accuracy_gradients(model, images, labels)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))
            if not track_norms:
                return loss, accuracy
            return loss, accuracy, tf.stack([tf.norm(gradients[i]) for i in positions])

        self._step = tf.function(step, jit_compile=jit_compile)

    def __call__(self, images, labels):
        """(loss, accuracy, norms) as Python floats and a numpy vector (norms None when not tracked)."""
        outputs = self._step(images, labels)
        norms = outputs[2].numpy() if len(outputs) == 3 else None
        return float(outputs[0]), float(outputs[1]), norms


def probe(model: keras.Model, images, labels) -> tuple[float, float, list[tuple[str, float]]]:
    """Loss, accuracy and (layer, ‖∂loss/∂kernel‖₂) for every kernel on one batch, without updating anything.

    BatchNorm runs in training mode (batch statistics, as the first training step would see); its moving averages
    are put back afterwards so that measuring leaves the model as it was.
    """
    saved = [variable.numpy() for variable in model.non_trainable_variables]
    loss, accuracy, gradients = _loss_accuracy_gradients(model, tf.convert_to_tensor(images),
                                                         tf.convert_to_tensor(labels))
    for variable, value in zip(model.non_trainable_variables, saved):
        variable.assign(value)
    positions = _kernel_positions(model)
    norms = [(layer.name, float(tf.norm(gradients[i]))) for layer, i in zip(kernel_layers(model), positions)]
    return float(loss), float(accuracy), norms


# Precise BatchNorm before judging: 8 batches of 64 training images (one pass each, no update of any weight).
RECALIBRATION_BATCHES, RECALIBRATION_BATCH = 8, 64


def recalibrate_batch_norm(model: keras.Model, batches) -> int:
    """Set every BatchNorm's moving mean and variance to the average of its batch statistics over `batches` of
    training images ("precise BN", Wu & Johnson 2021); returns how many batches were used.

    A short run leaves the moving averages mostly where they started: with momentum 0.99 they keep 0.99ⁿ of their
    initial values after n steps (55% after 60 steps), so in inference mode a net that learned its training batches
    answers one class for every held-out image. With momentum 1 − 1/k at the k-th batch, the moving value is the
    plain mean of the k batches' statistics. Only the moving statistics change.
    """
    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not layers:
        return 0
    momenta = [layer.momentum for layer in layers]
    used = 0
    try:
        for used, (images, _) in enumerate(batches, start=1):
            for layer in layers:
                layer.momentum = 1.0 - 1.0 / used
            model(_centred(images), training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    return used


def gradient_norms(model: keras.Model, images, labels) -> list[tuple[str, float]]:
    """(layer, gradient norm) for every kernel, first conv first, on one batch at the model's current weights."""
    return probe(model, images, labels)[2]


# ---------------------------------------------------------------------------------------------------------------
# Runs


@dataclasses.dataclass(frozen=True)
class RunConfig:
    arch: str = "resnet20"
    variants: tuple = VARIANTS  # which twins to train: "residual", "plain", or both side by side
    batch_norm: bool = True
    initializer: str = "he_normal"
    seed: int = 0
    batch_size: int = 32
    optimizer: str = "momentum"
    learning_rate: float = 0.02
    steps: int = 50  # 0: the gradient norms at initialisation on one batch, no update
    data: str = "offline"  # "offline" | "noise" | "cifar10" | a folder of class sub-folders; or, when the run is
    # handed its data source (the app's upload or server folder), what the page calls that data
    image_size: int | None = None  # None: the lab's size for the net (LAB_IMAGE_SIZES), else its own input size
    holdout: float = 0.25  # the share of each class set aside and never trained on (at most max_heldout_images)
    # What is measured on the held-out images once training ends (resnet/trained.py): each is bounded by Limits.
    lesions: bool = False  # held-out accuracy with each residual block removed
    line_points: int = 0  # the loss on the line from the initial to the trained weights; 0: not measured
    slice_side: int = 0  # the filter-normalised 2-D slice, side × side (odd); 0: not measured
    sanity: bool = False  # Adebayo et al.'s cascading randomisation of the CAM

    def net_name(self, variant: str) -> str:
        return self.arch.replace("resnet", "plain") if variant == "plain" else self.arch

    @property
    def size(self) -> int:
        return (self.image_size or LAB_IMAGE_SIZES.get(self.arch)
                or resnet.ARCHITECTURES[self.arch].input_shape[0])


@dataclasses.dataclass(frozen=True)
class StepRecord:
    net: str  # e.g. "resnet56" or its twin "plain56"
    step: int  # 1 = the first update; 0 = measured at initialisation without an update
    loss: float
    accuracy: float
    norms: tuple  # ((layer, gradient norm), …) in depth order, first conv first
    seconds: float  # wall time of this net's step
    elapsed: float  # wall time since the run started (models built), when this record was made

    def to_dict(self) -> dict:
        row = dataclasses.asdict(self)
        row["norms"] = [{"layer": layer, "norm": norm} for layer, norm in self.norms]
        return row


def check_config(config: RunConfig, limits: Limits) -> None:
    """Refuse a configuration before anything is built: unknown names, or a size over the server's limits."""
    if config.arch not in resnet.ARCHITECTURES:
        raise UnknownArchitecture(f"unknown architecture {config.arch!r}; try one of "
                                  f"{', '.join(sorted(resnet.ARCHITECTURES))}")
    if not config.variants:
        raise RunRefused("pick at least one net to train: the residual net, its plain twin, or both")
    if set(config.variants) - set(VARIANTS):
        raise RunRefused(f"variants must be some of {VARIANTS}, not {config.variants}")
    if config.initializer not in (*INITIALIZERS, resnet.ARCHITECTURES[config.arch].style.kernel_initializer):
        raise RunRefused(f"unknown initialiser {config.initializer!r}; choose one of {', '.join(INITIALIZERS)}")
    check_optimizer(config.optimizer, config.learning_rate)
    limits.check(steps=config.steps, batch=config.batch_size, image_size=config.size)
    limits.check_measures(holdout=config.holdout, line_points=config.line_points, slice_side=config.slice_side)


# Opens a run's data at the image side it is given: the app's way to hand a run an upload or a server folder, so that
# nothing the page was sent is ever taken for a path by `open_data`.
DataOpener = Callable[[int], object]


class Run:
    """A configured run: data opened and nets built on construction (errors surface there); `steps()` trains.

    `data` opens the data source instead of `open_data(config.data)`.

    `stop()` (from any thread) ends the run between two steps; the wall-time limit does the same. `stopped` says
    why a run ended early ("asked", "time limit") and stays None when it did all its steps.
    """

    def __init__(self, config: RunConfig, limits: Limits | None = None, data: DataOpener | None = None):
        self.config, self.limits = config, limits or Limits.from_environment()
        check_config(config, self.limits)
        self.data = data(config.size) if data is not None else open_data(config.data, config.size)
        self.limits.check_classes(len(self.data.class_names))
        # Set aside before any batch is drawn: from here on the data source never yields these images.
        self.heldout = self.data.hold_out(config.holdout, config.seed, self.limits.max_heldout_images)
        self.nets, self.build_options, self.initial = {}, {}, {}
        for variant in config.variants:  # the same seed: the plain twin starts from the residual net's weights
            name = config.net_name(variant)
            self.build_options[name] = dict(plain=variant == "plain", batch_norm=config.batch_norm,
                                            kernel_initializer=config.initializer,
                                            input_shape=(config.size, config.size, 3),
                                            classes=len(self.data.class_names), seed=config.seed)
            self.nets[name] = resnet.build(config.arch, **self.build_options[name])
            self.initial[name] = [w.numpy() for w in self.nets[name].weights]
        self.steps_done = 0
        self.stopped: str | None = None
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def steps(self) -> Iterator[list[StepRecord]]:
        """Per step, one record per net. Every net sees the same batches (the config's seed orders them)."""
        config = self.config
        batches = self.data.batches(config.batch_size, config.seed)
        start = time.perf_counter()
        if config.steps == 0:
            images, labels = next(batches)
            records = []
            for name, model in self.nets.items():
                began = time.perf_counter()
                loss, accuracy, norms = probe(model, _centred(images), labels)
                now = time.perf_counter()
                records.append(StepRecord(name, 0, loss, accuracy, tuple(norms), now - began, now - start))
            yield records
            return
        train_steps = {name: TrainStep(model, make_optimizer(config.optimizer, config.learning_rate))
                       for name, model in self.nets.items()}
        for step in range(1, config.steps + 1):
            if self._stop.is_set():
                self.stopped = "asked"
                return
            if time.perf_counter() - start > self.limits.max_run_seconds:
                self.stopped = "time limit"
                return
            images, labels = next(batches)
            images, labels = _centred(images), tf.convert_to_tensor(labels)
            records = []
            for name, train_step in train_steps.items():
                began = time.perf_counter()
                loss, accuracy, norms = train_step(images, labels)
                now = time.perf_counter()
                records.append(StepRecord(name, step, loss, accuracy,
                                          tuple(zip(train_step.layer_names, map(float, norms))),
                                          now - began, now - start))
            self.steps_done = step
            yield records

    def trained(self) -> dict[str, TrainedNet]:
        """Each net as training left it (all steps, or as many as were done), its BatchNorm statistics
        recalibrated on training images, judged on the held-out images, with what the configuration asked to
        measure besides. (At initialisation, with no step done, the nets are judged as they were built.)"""
        config = self.config
        if self.steps_done:
            batch = min(RECALIBRATION_BATCH, self.limits.max_batch)
            for model in self.nets.values():  # every net the same training images
                batches = self.data.batches(batch, config.seed + 1)
                recalibrate_batch_norm(model, (next(batches) for _ in range(RECALIBRATION_BATCHES)))
        return {name: measure(TrainedNet(name, config.arch, self.build_options[name]["plain"],
                                         self.build_options[name], model, self.initial[name], self.heldout,
                                         evaluate(model, self.heldout), self.steps_done),
                              lesions=config.lesions, line_points=config.line_points, slice_side=config.slice_side,
                              sanity=config.sanity, seed=config.seed)
                for name, model in self.nets.items()}


class BackgroundRun:
    """A run trained in a worker thread, holding a registry slot until it ends; the app polls `records`.

    The slot is taken here, in the caller's thread, so a refusal is raised to the caller at once. The data is opened
    in the worker, inside the slot: decoding an upload is work the server-wide cap must count too.
    """

    def __init__(self, config: RunConfig, registry: RunRegistry, session_key: str, limits: Limits | None = None,
                 data: DataOpener | None = None):
        limits = limits or Limits.from_environment()
        check_config(config, limits)
        self.config = config
        self.records: list[StepRecord] = []
        self.error: Exception | None = None
        self.class_names: tuple[str, ...] = ()  # once the data is open
        self.class_counts: dict[str, int] = {}  # images per class, where the data source counts them (an upload)
        self.problems: tuple[str, ...] = ()  # files of an upload left out, one line each
        self.run: Run | None = None  # while it trains; dropped at the end, when its nets move to `trained`
        self.trained: dict[str, TrainedNet] = {}  # once trained and measured: the nets the session keeps
        self.measuring = False  # training is over; the nets are being judged on the held-out images
        self._stopped: str | None = None
        self._stop_asked = threading.Event()
        registry.acquire(session_key)
        self._thread = threading.Thread(target=self._work, args=(limits, registry, session_key, data),
                                        name=f"gradient-run-{session_key}", daemon=True)
        self._thread.start()

    def _work(self, limits, registry, session_key, data):
        try:
            self.run = Run(self.config, limits, data)
            self.class_names = tuple(self.run.data.class_names)
            self.class_counts = dict(getattr(self.run.data, "counts", {}))
            self.problems = tuple(getattr(self.run.data, "problems", ()))
            if self._stop_asked.is_set():
                self.run.stop()
            for records in self.run.steps():
                self.records.extend(records)  # list.extend is atomic under the GIL; readers copy before use
            self.measuring = True
            self.trained = self.run.trained()
        except Exception as exc:  # noqa: BLE001 - handed to the page, which shows it
            self.error = exc
            self.problems = self.problems or tuple(getattr(exc, "problems", ()))
        finally:
            if self.run is not None:
                self._stopped, self.run = self.run.stopped, None
            registry.release(session_key)

    def stop(self) -> None:
        self._stop_asked.set()
        run = self.run  # read once: the worker drops it when the run ends
        if run is not None:
            run.stop()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def stopped(self) -> str | None:
        """Why the run ended early ("asked", "time limit"); None while it runs or when it did all its steps."""
        return None if self.running else self._stopped

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self.running


def records_table(records: list[StepRecord]) -> list[dict]:
    """One flat row per (net, step, layer): the CSV download and the heat map read this."""
    rows = []
    for record in records:
        for depth, (layer, norm) in enumerate(record.norms, start=1):
            rows.append({"net": record.net, "step": record.step, "loss": record.loss, "accuracy": record.accuracy,
                         "depth": depth, "layer": layer, "norm": norm, "elapsed": record.elapsed})
    return rows


def run_document(config: RunConfig, records: list[StepRecord], stopped: str | None,
                 trained: dict[str, TrainedNet] | None = None) -> dict:
    """Everything a run produced, as plain JSON values: the CLI's --json and the page's download. `nets` holds
    what each trained net did on the held-out images (and the lesions, line, slice and sanity check asked for)."""
    document = {"config": dataclasses.asdict(config), "stopped": stopped, "records": [r.to_dict() for r in records]}
    if trained:
        document["nets"] = {name: net.to_dict() for name, net in trained.items()}
    return document


# ---------------------------------------------------------------------------------------------------------------
# Measurements


def init_norms(arch: str, *, plain: bool, batch_norm: bool = True, initializer: str = "he_normal",
               batch_size: int = 64, seed: int = 0) -> list[tuple[str, float]]:
    """Per-kernel gradient norms at initialisation on the fixed probe batch (Gaussian images, seed `seed`)."""
    model = resnet.build(arch, plain=plain, batch_norm=batch_norm, kernel_initializer=initializer, seed=seed)
    size = model.input_shape[1]
    images, labels = random_batch(batch_size, size, model.output_shape[-1], seed)
    return gradient_norms(model, images, labels)


def step_overhead(arch: str = "resnet20", batch: int = 64, steps: int = 10, *, jit_compile: bool = False,
                  seed: int = 0) -> dict:
    """Seconds per train step with and without gradient-norm tracking, on the same net and batch; ratio = tracked/bare.

    Both steps are traced first; then they alternate, one step each, so that load on a shared CPU hits both alike.
    The median of each is reported.
    """
    model = resnet.build(arch, seed=seed)
    size = model.input_shape[1]
    images, labels = random_batch(batch, size, model.output_shape[-1], seed)
    images, labels = tf.convert_to_tensor(images), tf.convert_to_tensor(labels)
    tracked = TrainStep(model, keras.optimizers.SGD(1e-4), track_norms=True, jit_compile=jit_compile)
    bare = TrainStep(model, keras.optimizers.SGD(1e-4), track_norms=False, jit_compile=jit_compile)
    tracked(images, labels), bare(images, labels)
    times = {"bare": [], "tracked": []}
    for _ in range(steps):
        for name, train_step in (("bare", bare), ("tracked", tracked)):
            began = time.perf_counter()
            train_step(images, labels)
            times[name].append(time.perf_counter() - began)
    bare_s, tracked_s = float(np.median(times["bare"])), float(np.median(times["tracked"]))
    return {"arch": arch, "batch": batch, "steps": steps, "jit_compile": jit_compile,
            "bare_s": bare_s, "tracked_s": tracked_s, "ratio": tracked_s / bare_s}
