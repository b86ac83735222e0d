"""The numbers behind the speed targets, measured in one run, as medians and ratios (`python -m resnet bench`).

On a shared CPU absolute times drift with the load; ratios of timings taken in the same loop do not drift much, so
the cases of a table are interleaved (one call each per round, the order rotating) and compared by their medians.

Sections are plain functions `section(context) -> Section`, listed in SECTIONS; adding a measurement to the bench
is one line there.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import tensorflow as tf

import resnet
from resnet import devices, engines, images, memory_budget
from resnet.explaining import grad_cam_layer
from resnet.inference import Classifier, sample_images
from resnet.lesion import LesionNet
from resnet.paths import FIRST_SAMPLE, ROOT
from resnet.processes import run_measured
from resnet.residual_blocks import BlockWalk
from resnet.training import step_overhead

TARGET_RATIO = 1.1  # the app's warm bytes → top-5 against the fastest bare fp32 forward pass
BF16_TARGET = 0.6  # bf16 forward pass against fp32's, on the same engine
# A cold CLI run: its process tree's peak memory, and its wall time over a warm run's.
COLD_TARGETS = {"peak_mb": 2048, "wall_ratio": 2.0}
CLASS_SIZE, ANSWERS_FIRST_TARGET = 30, 1.1  # the last of a class's top-5s, each with its CAM, against without


@dataclass
class Timing:
    name: str
    median_ms: float
    runs: int
    note: str = ""


@dataclass
class Section:
    key: str
    title: str
    timings: list[Timing] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # verdicts and explanations, printed under the table
    data: dict = field(default_factory=dict)  # anything else worth keeping in --json


class Context:
    """What the sections share, built on first use: one ResNet-50, its engines, one Classifier, one photo."""

    def __init__(self, runs: int = 20, arch: str = "resnet50"):
        self.runs = runs
        self.arch = arch
        self.load = os.getloadavg()
        self.first_calls: dict[str, float] = {}  # engine → ms of its first (tracing / planning) call
        self.build_times: dict[str, float] = {}

    @cached_property
    def model(self):
        return resnet.build(self.arch, seed=0)  # random weights: speed does not depend on their values

    @cached_property
    def preprocessing(self) -> str:
        return resnet.ARCHITECTURES[self.arch].preprocessing

    @cached_property
    def classifier(self):
        """A Classifier of the "auto" engine for the soonest single answer (OpenVINO's latency hint: every core on
        each photo), warm-up included: bytes → top-5 at its fastest, what a served upload's CPU is held to."""
        began = time.perf_counter()
        classifier = Classifier(self.model, pretrained=False, weights_source="random (bench)", arch=self.arch)
        self.build_times[f"Classifier({classifier.engine.name}) incl. warm-up"] = _ms_since(began)
        self.first_calls[classifier.engine.name] = classifier.first_call_ms
        return classifier

    @cached_property
    def served_classifier(self):
        """The classifier as the app's server makes it (app/classifier.py): OpenVINO's throughput streams."""
        return Classifier(self.model, pretrained=False, weights_source="random (bench)", arch=self.arch,
                          hint="throughput")

    @cached_property
    def engines(self) -> dict:
        """Every fp32 engine that runs here, each built from scratch with its set-up and first call timed (the
        `choice` section compares them with engines.KINDS), and bf16 where the hardware has it."""
        found = {}
        for name in engines.runnable_here():
            began = time.perf_counter()
            found[name] = engines.make_engine(self.model, name, "fp32")
            self.build_times[name] = _ms_since(began)
            began = time.perf_counter()
            found[name](self.batch(1))
            self.first_calls[name] = _ms_since(began)
        if devices.bf16_unavailable() is None:
            engine = engines.make_engine(self.model, None, "bf16")
            engine(self.batch(1))
            found[f"{engine.name} bf16"] = engine
        return found

    @cached_property
    def photo(self) -> bytes:
        return FIRST_SAMPLE.read_bytes()

    def batch(self, size: int) -> np.ndarray:
        rgb = images.decode_image(self.photo)
        return np.repeat(images.prepare(rgb, preprocessing=self.preprocessing)[np.newaxis], size, axis=0)


def interleaved(cases: dict[str, Callable[[], object]], runs: int, warm: int = 2) -> dict[str, list[float]]:
    """Milliseconds of each case over `runs` rounds, one call of each per round, the order rotating."""
    names = list(cases)
    for _ in range(warm):
        for name in names:
            cases[name]()
    times = {name: [] for name in names}
    for round_number in range(runs):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            began = time.perf_counter()
            cases[name]()
            times[name].append(_ms_since(began))
    return times


def warm_paths(context: Context) -> Section:
    """Forward pass per engine and a classifier's bytes → top-5, in one interleaved loop so the ratios are fair."""
    classifier, photo = context.classifier, context.photo
    x1 = context.batch(1)
    cases = {f"forward {name}": (lambda engine=engine: engine(x1)) for name, engine in context.engines.items()}
    named = [(FIRST_SAMPLE.name, photo)]
    cases["bytes → top-5"] = lambda: classifier.classify_each(named)
    # Where the app's time goes besides the forward pass (an engine that takes uint8 crops scales them in its graph):
    picture = images.open_image(photo)
    crop = images.crop_for_model(picture)
    cases["  decode (Pillow)"] = lambda: images.open_image(photo)
    cases["  crop + resize"] = lambda: images.crop_for_model(picture)
    if not classifier.engine.takes_pixels:
        cases["  preprocess_input"] = lambda: images.preprocess(crop[np.newaxis], classifier.preprocessing)
    times = interleaved(cases, context.runs)
    medians = {name: statistics.median(values) for name, values in times.items()}

    section = Section("warm", f"Warm paths, batch 1, {context.arch} (median of {context.runs} interleaved runs)")
    section.timings = [Timing(name, medians[name], context.runs) for name in cases]
    section.data["classifier_engine"] = classifier.engine.name
    section.data["device"] = classifier.device
    app = medians["bytes → top-5"]
    fp32 = {name: medians[f"forward {name}"] for name in context.engines if not name.endswith("bf16")}
    fastest = min(fp32, key=fp32.get)
    ratio = app / fp32[fastest]
    section.data.update(target_ratio=ratio, fastest_fp32=fastest)
    verdict = (f"met (≤ {TARGET_RATIO:.2f}×)" if ratio <= TARGET_RATIO else
               f"MISSED by {(ratio / TARGET_RATIO - 1) * 100:.1f}% (decode + crop + top-k + heat maps cost "
               f"{app - medians['forward ' + classifier.engine.name]:.1f} ms over the forward pass)")
    section.lines.append(f"Target: bytes → top-5 {app:.1f} ms (engine {classifier.engine.name}) is {ratio:.2f}× the "
                         f"fastest fp32 forward pass ({fastest}, {fp32[fastest]:.1f} ms): {verdict}")
    return section


def batching(context: Context) -> Section:
    """Several images as one batch against the same images one by one, through the app's path."""
    classifier, photo = context.classifier, context.photo
    named = [(f"photo {i}.jpg", photo) for i in range(4)]
    cases = {"4 images, one batch": lambda: classifier.classify_each(named),
             "4 images, one call each": lambda: [classifier.classify_each([item]) for item in named]}
    runs = max(3, context.runs // 4)
    times = interleaved(cases, runs, warm=1)
    section = Section("batching", f"Bytes → top-5 for 4 photos (median of {runs} interleaved runs)")
    section.timings = [Timing(name, statistics.median(values), runs) for name, values in times.items()]
    return section


def model_predict(context: Context) -> Section:
    """What the compiled pass saves: keras' model.predict on the same batch (its per-call set-up included)."""
    model, x1 = context.model, context.batch(1)
    engine = context.engines["tf"]
    runs = max(3, context.runs // 2)
    times = interleaved({"tf.function (ours)": lambda: engine(x1),
                         "model.predict": lambda: model.predict(x1, verbose=0)}, runs)
    section = Section("predict", f"model.predict against the compiled pass, batch 1 (median of {runs} runs)")
    section.timings = [Timing(name, statistics.median(values), runs) for name, values in times.items()]
    return section


def first_calls(context: Context) -> Section:
    """The first call of each engine (tracing, graph planning), and what the app's first user waits."""
    classifier = context.classifier
    context.engines  # noqa: B018 -- builds the engines, timing their first calls
    section = Section("first_call", "First calls (one each: a process pays them once; the app at start-up)")
    for name, ms in context.first_calls.items():
        note = "the app's warm-up, at start-up" if name == classifier.engine.name else ""
        section.timings.append(Timing(f"first forward {name}", ms, 1, note))
    fresh = _fresh_classifier_first_request(context)
    section.timings.append(Timing("first user request after warm-up", fresh, 1))
    section.data["build_ms"] = dict(context.build_times)
    for name, ms in context.build_times.items():
        section.lines.append(f"built {name}: {ms:.0f} ms")
    return section


def _fresh_classifier_first_request(context: Context) -> float:
    classifier = Classifier(context.model, pretrained=False, weights_source="random (bench)", arch=context.arch)
    began = time.perf_counter()
    classifier.classify_each([(FIRST_SAMPLE.name, context.photo)])
    return _ms_since(began)


def training_overhead(context: Context) -> Section:
    """The gradient lab's per-kernel gradient-norm tracking against a bare train step (resnet.training)."""
    steps = max(3, context.runs // 2)
    result = step_overhead("resnet20", batch=64, steps=steps)
    section = Section("training", f"Train step of resnet20, batch 64 (median of {steps} interleaved steps)",
                      data=result)
    section.timings = [Timing("bare step", result["bare_s"] * 1000, steps),
                       Timing("step with gradient norms", result["tracked_s"] * 1000, steps)]
    return section


LESION_TARGET_S = 2.0  # every block of ResNet-50 removed in turn, for one photo (issue 13)


def lesions(context: Context) -> Section:
    """Every block removed in turn (resnet.lesion): the one batch whose rows join where they first differ, against
    the same networks as full rows of one batch, and one intact forward pass."""
    net, x1 = LesionNet(context.model, context.arch), context.batch(1)
    count = len(net.blocks)
    walk = BlockWalk(context.model, context.arch)
    full_rows = tf.function(lambda x, scale: walk(x, scale=scale))
    rows = np.repeat(x1, count + 1, axis=0)
    scale = np.vstack([np.ones((1, count)), 1 - np.eye(count)]).astype(np.float32)
    engine = engines.TensorFlowEngine(context.model)  # not context.engines: that would convert to OpenVINO first
    runs = max(3, context.runs // 4)
    cases = {f"each of {count} blocks removed (rows join late)": lambda: net.each_block(x1[0]),
             f"the same {count + 1} networks as full rows": lambda: full_rows(rows, scale).numpy(),
             "one intact forward pass (tf)": lambda: engine(x1)}
    times = interleaved(cases, runs, warm=1)
    section = Section("lesions", f"Lesions of {context.arch}, one photo (median of {runs} interleaved runs)")
    section.timings = [Timing(name, statistics.median(values), runs) for name, values in times.items()]
    seconds = section.timings[0].median_ms / 1000
    section.data.update(each_block_s=seconds, target_s=LESION_TARGET_S)
    section.lines.append(f"Target: every block removed in turn in {seconds:.2f} s: "
                         + ("met" if seconds <= LESION_TARGET_S else "MISSED") + f" (≤ {LESION_TARGET_S:.0f} s)")
    return section


def memory(context: Context) -> Section:
    """Peak memory of this process (every engine built above included), and the conditions of the run."""
    section = Section("memory", "Memory and conditions")
    peak_mb = peak_rss_mb()
    load = os.getloadavg()
    section.data.update(peak_rss_mb=peak_mb, load_average=load, cpus=os.cpu_count(), started_load=context.load)
    section.lines.append(f"peak resident memory of this process: {peak_mb:.0f} MB (getrusage ru_maxrss, every engine "
                         "above and the gradient lab's networks included)")
    section.lines.append(f"{os.cpu_count()} CPUs; load average {context.load[0]:.2f} at the start, {load[0]:.2f} "
                         "at the end (above 0 means other processes shared the cores)")
    return section


def engine_choice(context: Context) -> Section:
    """What each engine costs before its first answer and per photo after it, against the table the CLI chooses by
    (engines.KINDS): the number of photos from which a conversion pays for itself."""
    context.engines  # noqa: B018 -- builds every engine from scratch, timing set-up and first call
    x1 = context.batch(1)
    fp32 = {name: engine for name, engine in context.engines.items() if name in engines.KINDS}
    runs = max(5, context.runs // 2)
    per_photo = {name: statistics.median(values) / 1000 for name, values in
                 interleaved({name: (lambda e=engine: e(x1)) for name, engine in fp32.items()}, runs).items()}
    setup = {name: (context.build_times[name] + context.first_calls[name]) / 1000 for name in fp32}
    kinds = engines.KINDS
    section = Section("choice", "Engine set-up and per-photo cost, measured here against the table of engines")
    for name in fp32:
        kind = kinds[name]
        section.lines.append(f"{name:<10} set-up {setup[name]:5.2f} s (table {kind.setup_s:.2f}), per photo "
                             f"{per_photo[name] * 1000:6.1f} ms (table {kind.per_photo_s * 1000:.1f}); on "
                             f"{kind.device}, bf16 on {kind.bf16}"
                             + ("; converted in the background by the app" if kind.converts else ""))
    for name in (name for name in fp32 if kinds[name].converts and per_photo["tf"] > per_photo[name]):
        measured = (setup[name] - setup["tf"]) / (per_photo["tf"] - per_photo[name])
        tabled = (kinds[name].setup_s - kinds["tf"].setup_s) / (kinds["tf"].per_photo_s - kinds[name].per_photo_s)
        section.data.update(break_even_photos=measured, table_break_even_photos=tabled)
        section.lines.append(f"{name} pays for its conversion from {measured:.0f} photos here (the table says "
                             f"{tabled:.0f}); below that the CLI answers with plain TensorFlow")
    section.data.update(setup_s=setup, per_photo_s=per_photo)
    return section


def precision(context: Context) -> Section:
    """bf16 against fp32 on the same engine, where the hardware has bf16; the top-5 of every sample photo in both."""
    reason = devices.bf16_unavailable()
    section = Section("precision", "bf16 against fp32")
    if reason:
        section.lines.append(f"bf16 not measured: {reason}")
        return section
    bf16_name = next(name for name in context.engines if name.endswith(" bf16"))
    fp32_engine = context.engines[bf16_name.removesuffix(" bf16")]
    bf16_engine = context.engines[bf16_name]
    x1 = context.batch(1)
    times = interleaved({"fp32": lambda: fp32_engine(x1), "bf16": lambda: bf16_engine(x1)}, context.runs)
    medians = {name: statistics.median(values) for name, values in times.items()}
    section.timings = [Timing(f"forward {bf16_name.removesuffix(' bf16')} {name}", ms, context.runs)
                       for name, ms in medians.items()]
    ratio = medians["bf16"] / medians["fp32"]
    section.data["bf16_ratio"] = ratio
    section.lines.append(f"Target: bf16 {ratio:.2f}× fp32: {'met' if ratio <= BF16_TARGET else 'MISSED'} "
                         f"(≤ {BF16_TARGET:.2f}×)")
    for name, path in sample_images().items():
        x = images.preprocess(images.crop_for_model(images.read_image_file(path))[np.newaxis], context.preprocessing)
        p32, p16 = fp32_engine(x)[0], bf16_engine(x)[0]
        top32, top16 = np.argsort(-p32)[:5], np.argsort(-p16)[:5]
        section.lines.append(f"{name}: top-1 {'same' if top32[0] == top16[0] else 'DIFFERS'}, top-5 overlap "
                             f"{len(set(top32) & set(top16))}/5, max |Δp| {np.abs(p32 - p16).max():.4f}")
    return section


def cold(context: Context) -> Section:
    """`python -m resnet predict PHOTO --allow-untrained` as a newcomer runs it: a new process, empty caches (no
    Keras home, no cache folder), then the same again warm; the whole process tree's peak memory sampled."""
    command = [sys.executable, "-m", "resnet", "predict", str(FIRST_SAMPLE), "--allow-untrained", "--json"]
    section = Section("cold", "A newcomer's first `python -m resnet predict` (new process, empty caches), then warm")
    with tempfile.TemporaryDirectory() as empty:
        home = Path(empty)
        env = dict(os.environ, KERAS_HOME=str(home / "keras"), XDG_CACHE_HOME=str(home / "cache"),
                   RESNET_CACHE_DIR=str(home / "resnet-cache"), TF_CPP_MIN_LOG_LEVEL="2",
                   RESNET_WEIGHTS_ORIGIN=(home / "no-mirror").as_uri())  # no weights: nothing is downloaded
        env.pop("RESNET_WEIGHTS", None)
        env.pop("RESNET_WEIGHTS_DIR", None)
        runs = {label: run_measured(command, env=env, cwd=ROOT) for label in ("cold", "warm")}
    for label, measured in runs.items():
        if measured.returncode != 0:
            section.lines.append(f"{label} run FAILED (exit {measured.returncode}): "
                                 f"{(measured.stderr.strip().splitlines() or [''])[-1]}")
            return section
        section.timings.append(Timing(f"{label} run, wall", measured.seconds * 1000, 1,
                                      f"peak {measured.peak_rss_bytes / 2**20:.0f} MB, process tree"))
    peak_mb = runs["cold"].peak_rss_bytes / 2**20
    ratio = runs["cold"].seconds / runs["warm"].seconds
    section.data.update(cold_peak_mb=peak_mb, wall_ratio=ratio)
    met = peak_mb <= COLD_TARGETS["peak_mb"] and ratio <= COLD_TARGETS["wall_ratio"]
    section.lines.append(f"Target: cold peak {peak_mb:.0f} MB (≤ {COLD_TARGETS['peak_mb']} MB), cold wall {ratio:.2f}× "
                         f"warm (≤ {COLD_TARGETS['wall_ratio']:.1f}×): {'met' if met else 'MISSED'}")
    return section


def serving(context: Context) -> Section:
    """The app's engine (OpenVINO's throughput streams) against the soonest single answer (its latency hint): one
    photo alone, and two callers at once as a class's uploads meet, wall time and CPU time per photo."""
    section = Section("serving", "The server's engine against the soonest answer, bytes → top-5 (median of "
                                 f"{context.runs} interleaved runs)")
    if not engines.openvino_available():
        section.lines.append("not measured: OpenVINO is not installed (the app answers with TensorFlow)")
        return section
    named = [(FIRST_SAMPLE.name, context.photo)]
    served, fastest = context.served_classifier, context.classifier
    cpu: dict[str, list[float]] = {"latency": [], "throughput": []}
    with ThreadPoolExecutor(2) as pool:
        def two_callers(classifier) -> float:  # CPU seconds of this process for the two photos
            began = time.process_time()
            list(pool.map(lambda _: classifier.classify_each(named), range(2)))
            return time.process_time() - began

        cases = {"one photo alone, latency": lambda: fastest.classify_each(named),
                 "one photo alone, throughput (the app)": lambda: served.classify_each(named),
                 "two at once, latency": lambda: cpu["latency"].append(two_callers(fastest)),
                 "two at once, throughput (the app)": lambda: cpu["throughput"].append(two_callers(served))}
        times = interleaved(cases, context.runs)
    medians = {name: statistics.median(values) for name, values in times.items()}
    section.timings = [Timing(name, medians[name], context.runs) for name in cases]
    per_photo = {hint: statistics.median(values) / 2 * 1000 for hint, values in cpu.items()}
    section.lines.append(f"CPU per photo, two at once: latency {per_photo['latency']:.1f} ms, throughput "
                         f"{per_photo['throughput']:.1f} ms ({per_photo['throughput'] / per_photo['latency']:.2f}×); "
                         f"{served.engine.parallel} streams. A served class's pages share these cores: "
                         "`tests/load/classroom.py` measures the CPU per upload there")
    section.data.update(cpu_per_photo_ms=per_photo, streams=served.engine.parallel)
    return section


def answers_first(context: Context) -> Section:
    """A class at once, in one process: 30 threads each ask for a top-5 then the Grad-CAM of its top class (the
    page's default: from the answer's own feature map, resnet.explaining), against the same 30 top-5s alone; and,
    for comparison, the same Grad-CAM taken by the gradient (queued behind the answers by resnet.lanes)."""
    classifier, named = context.served_classifier, [(FIRST_SAMPLE.name, context.photo)]  # as the app serves
    layer = grad_cam_layer(classifier.model)
    classifier.explainer.warm_up(layer)
    # The baseline: the same engine answering with the probabilities alone, as before the CAM came with them.
    top5_only = Classifier(context.model, pretrained=False, weights_source="random (bench)", arch=context.arch,
                           engine=classifier.engine.name, heat_maps=False, hint=classifier.hint)

    def by_gradient(prediction):
        with classifier.explaining():
            return classifier.explainer.grad_cam(prediction.model_input, prediction.top[0].index, layer)

    def burst(with_cam: bool, then_gradient: bool = False) -> tuple[float, float]:
        top5_done, all_done, began = [], [], time.perf_counter()

        def student():
            [prediction] = (classifier if with_cam else top5_only).classify_each(named)
            if with_cam:
                classifier.grad_cam(prediction, prediction.top[0].index)  # the answer's own map
            top5_done.append(time.perf_counter() - began)
            if then_gradient:
                by_gradient(prediction)
            all_done.append(time.perf_counter() - began)

        threads = [threading.Thread(target=student) for _ in range(CLASS_SIZE)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return max(top5_done) * 1000, max(all_done) * 1000

    rounds = max(2, context.runs // 10)
    alone, with_cam, gradient = [], [], []
    cases = [lambda: alone.append(burst(False)[0]), lambda: with_cam.append(burst(True)[0]),
             lambda: gradient.append(burst(False, then_gradient=True)[1])]
    for round_number in range(rounds):  # interleaved, the order rotating, as everywhere in the bench
        shift = round_number % len(cases)
        for case in cases[shift:] + cases[:shift]:
            case()
    last_alone, last_with_cam = statistics.median(alone), statistics.median(with_cam)
    section = Section("answers_first", f"{CLASS_SIZE} threads at once, engine {classifier.engine.name} (median of "
                                       f"{rounds} rounds)")
    section.timings = [Timing("last top-5, top-5s alone (no feature map)", last_alone, rounds),
                       Timing("last top-5 with its CAM (from the answer)", last_with_cam, rounds),
                       Timing("last Grad-CAM by the gradient (the old way)", statistics.median(gradient), rounds)]
    ratio = last_with_cam / last_alone
    section.data["last_top5_ratio"] = ratio
    section.lines.append(f"Target: the last top-5 with its CAM is {ratio:.2f}× the last without: "
                         f"{'met' if ratio <= ANSWERS_FIRST_TARGET else 'MISSED'} (≤ {ANSWERS_FIRST_TARGET:.1f}×)")
    return section


def budget(context: Context) -> Section:
    """What a server holds, part by part (`resnet.memory_budget`), measured in a fresh process of its own."""
    section = Section("budget", "Memory budget of a server, part by part (a fresh process, in the order a server "
                                "builds them)")
    measured = run_measured([sys.executable, "-m", "resnet.memory_budget", "--arch", context.arch, "--json"],
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=900)
    if measured.returncode != 0:
        section.lines.append(f"not measured: python -m resnet.memory_budget exited {measured.returncode}: "
                             f"{measured.stderr.strip().splitlines()[-1:]}")
        return section
    parts = [memory_budget.Part(**part) for part in json.loads(measured.stdout.strip().splitlines()[-1])]
    section.lines += memory_budget.format_parts(parts)
    section.lines.append("Streamlit and its sessions: `tests/load/classroom.py` measures a served class")
    section.data["parts"] = [vars(part) for part in parts]
    return section


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kilobytes


SECTIONS: list[Callable[[Context], Section]] = [cold, warm_paths, serving, engine_choice, precision, batching,
                                                model_predict, first_calls, answers_first, training_overhead,
                                                lesions, memory, budget]


def run(runs: int = 20, only: list[str] | None = None,
        on_section: Callable[[Section], None] | None = None) -> list[Section]:
    """Every section (or those named in `only`), in order; `on_section` sees each as soon as it is measured."""
    context = Context(runs=runs)
    results = []
    for section in SECTIONS:
        if only and section.__name__ not in only:
            continue
        results.append(section(context))
        if on_section:
            on_section(results[-1])
    return results


def format_section(section: Section) -> str:
    lines = [section.title]
    if section.timings:
        fastest = min(t.median_ms for t in section.timings if not t.name.startswith("  "))
        width = max(len(t.name) for t in section.timings)
        for t in section.timings:
            ratio = "" if t.name.startswith("  ") else f"{t.median_ms / fastest:7.2f}×"
            note = f"  ({t.note})" if t.note else ""
            lines.append(f"  {t.name:<{width}}  {t.median_ms:9.1f} ms {ratio}{note}")
    lines += [f"  {line}" for line in section.lines]
    return "\n".join(lines)


def to_json(sections: list[Section]) -> dict:
    return {s.key: {"title": s.title, "timings": [vars(t) for t in s.timings], "notes": s.lines, **s.data}
            for s in sections}


def _ms_since(began: float) -> float:
    return (time.perf_counter() - began) * 1000
