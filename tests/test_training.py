"""The gradient lab's train step, runs and the init-norm picture (one probe batch of 64 Gaussian 32×32 images,
seed 0, as the issue measured)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import resnet
from resnet.errors import RunRefused, UnknownArchitecture
from resnet.limits import Limits, RunRegistry
from resnet.training import (BackgroundRun, Run, RunConfig, TrainStep, gradient_norms, init_norms, kernel_layers,
                             make_optimizer, records_table)
from resnet.uploads import UploadRefused, open_upload


def first_over_last_conv(norms):
    convs = [norm for layer, norm in norms if layer.endswith("_conv")]
    return convs[0] / convs[-1]


@pytest.mark.parametrize("initializer", ["he_normal", "glorot_uniform"])
def test_with_batchnorm_plain56_gradients_explode_toward_the_input_and_resnet56_stays_flat(initializer):
    residual = init_norms("resnet56", plain=False, batch_norm=True, initializer=initializer)
    plain = init_norms("resnet56", plain=True, batch_norm=True, initializer=initializer)
    assert first_over_last_conv(plain) >= 100 * first_over_last_conv(residual)


def test_without_batchnorm_plain56_gradients_vanish_next_to_resnet56():
    residual = init_norms("resnet56", plain=False, batch_norm=False, initializer="glorot_uniform")
    plain = init_norms("resnet56", plain=True, batch_norm=False, initializer="glorot_uniform")
    assert max(norm for _, norm in plain) * 1e4 <= min(norm for _, norm in residual)


@pytest.fixture()
def small_batch():
    rng = np.random.default_rng(0)
    return (tf.constant(rng.normal(0, 1, (8, 32, 32, 3)).astype("float32")),
            tf.constant(rng.integers(0, 10, 8).astype("int32")))


def test_step_norms_are_the_norms_of_the_gradients_the_optimiser_applies(small_batch):
    images, labels = small_batch
    model = resnet.build("resnet20", seed=1)
    kernels = [layer.kernel for layer in model.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]
    with tf.GradientTape() as tape:  # computed independently of the library, before the step changes anything
        loss = keras.losses.sparse_categorical_crossentropy(labels, model(images, training=True))
        loss = tf.reduce_mean(loss)
    expected = [float(tf.norm(g)) for g in tape.gradient(loss, kernels)]
    before = [k.numpy() for k in kernels]

    learning_rate = 0.1
    step = TrainStep(model, keras.optimizers.SGD(learning_rate))
    step_loss, _, norms = step(images, labels)

    assert step_loss == pytest.approx(float(loss), rel=1e-5)
    np.testing.assert_allclose(norms, expected, rtol=1e-4)
    # plain SGD moved each kernel by lr × its gradient: the norms are of what was applied
    applied = [np.linalg.norm(b - k.numpy()) / learning_rate for b, k in zip(before, kernels)]
    np.testing.assert_allclose(norms, applied, rtol=1e-3)


def test_gradient_norms_leave_the_model_as_it_was(small_batch):
    model = resnet.build("resnet20", seed=1)
    weights = [w.numpy() for w in model.weights]
    norms = gradient_norms(model, *small_batch)
    assert [layer for layer, _ in norms] == [layer.name for layer in kernel_layers(model)]
    for before, after in zip(weights, model.weights):
        np.testing.assert_array_equal(before, after.numpy())


def test_a_run_records_one_norm_per_kernel_in_depth_order_for_both_twins():
    run = Run(RunConfig(arch="resnet20", steps=2, batch_size=8))
    steps = list(run.steps())
    assert [[r.step for r in records] for records in steps] == [[1, 1], [2, 2]]
    assert [r.net for r in steps[0]] == ["resnet20", "plain20"]
    for record in steps[-1]:
        layers = [layer for layer, _ in record.norms]
        assert len(layers) == resnet.ARCHITECTURES["resnet20"].depth == 20
        assert layers[0] == "conv1_conv" and layers[-1] == "predictions"
        assert layers == [layer.name for layer in kernel_layers(run.nets[record.net])]
        assert all(np.isfinite(norm) and norm > 0 for _, norm in record.norms)
    assert run.stopped is None
    rows = records_table([r for records in steps for r in records])
    assert len(rows) == 2 * 2 * 20 and rows[0]["depth"] == 1 and rows[19]["layer"] == "predictions"


def test_twins_with_one_seed_start_from_the_same_kernels():
    run = Run(RunConfig(arch="resnet20", steps=1, batch_size=4))
    residual, plain = run.nets["resnet20"], run.nets["plain20"]
    for a, b in zip(kernel_layers(residual), kernel_layers(plain)):
        np.testing.assert_array_equal(a.kernel.numpy(), b.kernel.numpy())


def test_steps_zero_measures_at_initialisation_without_an_update():
    run = Run(RunConfig(arch="resnet20", variants=("plain",), steps=0, batch_size=8))
    before = [w.numpy() for w in run.nets["plain20"].trainable_weights]
    (records,) = list(run.steps())
    assert [(r.net, r.step) for r in records] == [("plain20", 0)]
    for b, w in zip(before, run.nets["plain20"].trainable_weights):
        np.testing.assert_array_equal(b, w.numpy())


def test_a_run_stops_when_asked_and_keeps_what_was_done():
    run = Run(RunConfig(arch="resnet20", variants=("plain",), steps=50, batch_size=4))
    done = []
    for records in run.steps():
        done.extend(records)
        if len(done) == 2:
            run.stop()
    assert [r.step for r in done] == [1, 2]
    assert run.stopped == "asked"


def test_a_run_stops_at_its_wall_time_limit():
    run = Run(RunConfig(arch="resnet20", variants=("plain",), steps=50, batch_size=4), Limits(max_run_seconds=1e-6))
    assert list(run.steps()) == [] and run.stopped == "time limit"


def test_background_run_trains_in_a_thread_stops_and_frees_its_slot():
    registry = RunRegistry(max_concurrent_runs=1)
    background = BackgroundRun(RunConfig(arch="resnet20", variants=("plain",), steps=200, batch_size=4), registry,
                               "session-a")
    with pytest.raises(RunRefused, match="busy"):
        BackgroundRun(RunConfig(arch="resnet20", steps=2, batch_size=4), registry, "session-b")
    for _ in range(600):
        if background.records or not background.running:
            break
        background.wait(0.1)
    assert background.records, background.error
    background.stop()
    assert background.wait(60)
    assert background.stopped == "asked" and background.error is None
    kept = len(background.records)
    assert 1 <= kept < 200
    assert registry.active == 0


@pytest.mark.parametrize("config, message", [
    (RunConfig(steps=10_000), "steps 10000 is over this server's limit"),
    (RunConfig(batch_size=4096), "batch size 4096 is over"),
    (RunConfig(image_size=1024), "image size 1024 is over"),
    (RunConfig(optimizer="rmsprop"), "unknown optimiser 'rmsprop'"),
    (RunConfig(learning_rate=0), "learning rate must be positive"),
    (RunConfig(initializer="../../etc/passwd"), "unknown initialiser"),
])
def test_runs_over_a_limit_are_refused_with_the_reason(config, message):
    with pytest.raises(RunRefused, match=message):
        Run(config, Limits())


def test_a_data_set_with_more_classes_than_the_limit_is_refused_before_any_net_is_built():
    with pytest.raises(RunRefused, match="10 classes is over this server's limit of 5.*RESNET_MAX_CLASSES"):
        Run(RunConfig(data="offline"), Limits(max_classes=5))


def test_a_background_run_opens_the_data_it_is_handed_and_reports_an_upload_refused_with_its_files():
    registry = RunRegistry(max_concurrent_runs=1)
    upload = [("pets/cats/0.png", b"not a png"), ("pets/dogs/notes.txt", b"hello")]
    background = BackgroundRun(RunConfig(data="upload", steps=1, batch_size=4), registry, "session-a",
                               data=lambda size: open_upload(upload, size, Limits()))
    assert background.wait(60) and registry.active == 0
    assert isinstance(background.error, UploadRefused) and "fewer than two classes" in str(background.error)
    assert [line.split(":")[0] for line in background.problems] == ["pets/cats/0.png", "pets/dogs/notes.txt"]


def test_unknown_architecture_is_refused_by_name():
    with pytest.raises(UnknownArchitecture, match="resnet9"):
        Run(RunConfig(arch="resnet9"))


@pytest.mark.parametrize("name, kind, momentum", [("sgd", keras.optimizers.SGD, 0.0),
                                                   ("momentum", keras.optimizers.SGD, 0.9),
                                                   ("adam", keras.optimizers.Adam, None)])
def test_optimisers_by_name(name, kind, momentum):
    optimizer = make_optimizer(name, 0.01)
    assert isinstance(optimizer, kind) and float(optimizer.learning_rate) == pytest.approx(0.01)
    if momentum is not None:
        assert optimizer.momentum == momentum


def test_resnet20_learns_the_offline_data_within_a_short_run():
    run = Run(RunConfig(arch="resnet20", variants=("residual",), steps=40, batch_size=32, seed=0))
    records = [r for records in run.steps() for r in records]
    early = np.mean([r.accuracy for r in records[:5]])
    late = np.mean([r.accuracy for r in records[-10:]])
    assert early < 0.2 and late > 0.3  # chance is 0.1


def test_recalibrated_batchnorm_holds_the_mean_of_its_batch_statistics_and_nothing_else_moves():
    from resnet.training import recalibrate_batch_norm

    model = resnet.build("resnet20", seed=2)
    rng = np.random.default_rng(0)
    batches = [(rng.uniform(0, 1, (8, 32, 32, 3)).astype("float32"), None) for _ in range(3)]
    trainable = [w.numpy() for w in model.trainable_weights]
    assert recalibrate_batch_norm(model, iter(batches)) == 3
    # what conv1_bn sees, computed apart: the stem conv's output on each batch, as the trainer centres the inputs
    stem = keras.Model(model.input, model.get_layer("conv1_conv").output)
    outputs = [stem((images - 0.5) / 0.25).numpy() for images, _ in batches]
    bn = model.get_layer("conv1_bn")
    np.testing.assert_allclose(bn.moving_mean.numpy(), np.mean([o.mean(axis=(0, 1, 2)) for o in outputs], axis=0),
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), np.mean([o.var(axis=(0, 1, 2)) for o in outputs], axis=0),
                               rtol=1e-3)
    assert bn.momentum == 0.99
    for before, after in zip(trainable, model.trainable_weights):
        np.testing.assert_array_equal(before, after.numpy())
