"""What a server holds, part by part: the resident memory each piece of the Predict page's machinery adds.

`python -m resnet.memory_budget [--json]` builds, in a fresh process and in the order a server meets them, everything
one server keeps for ResNet-50: TensorFlow, the network, its answering engines, and the explanations' networks and
traced functions, reading the process's resident memory (with Python's garbage collected and glibc's free pages
returned) after each. `python -m resnet bench` runs it as its "budget" section. Streamlit's own share (its server and
each session) is measured by `tests/load/classroom.py`, which serves a class.

Each figure is what that part added while everything before it was held: parts that share memory (the gradient
traces share the network's weights) show only what they add.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass

from resnet.processes import give_memory_back, rss_of

MB = 1024 * 1024


@dataclass(frozen=True)
class Part:
    name: str
    added_mb: float  # resident memory this part added to everything measured before it
    total_mb: float  # the process's resident memory once it was held
    note: str = ""


def resident_mb() -> float:
    gc.collect()
    give_memory_back()
    return rss_of(os.getpid()) / MB


def measure(arch: str = "resnet50") -> list[Part]:
    """The parts, in the order a server builds them (see the module's docstring)."""
    parts: list[Part] = []
    held: dict[str, object] = {}  # what stays alive, as in a server
    from resnet import devices, engines  # noqa: PLC0415 -- TensorFlow and Keras, as an in-process server loads them

    before = resident_mb()

    def step(name: str, build: Callable[[], object], note: str = "") -> None:
        nonlocal before
        held[name] = build()
        now = resident_mb()
        parts.append(Part(name, round(now - before, 1), round(now, 1), note))
        before = now

    # The package imports TensorFlow only with its networks (a thin page never does): imported above, as one part.
    parts.append(Part("Python, TensorFlow, Keras and the resnet library", round(before, 1), round(before, 1)))
    if engines.openvino_available():
        step("OpenVINO's runtime (the library)", devices.import_openvino)
    step(f"the network ({arch}, its weights)", lambda: _build(arch))
    model = held[f"the network ({arch}, its weights)"]
    classifier = _classifier(model, arch)
    step("the TensorFlow forward pass (traced, warm)", lambda: classifier)
    prediction = _predict(classifier)
    if engines.openvino_available():
        step("OpenVINO fp32 engine (converted, compiled, each stream warm)", lambda: _warm(classifier, "fp32"))
        if devices.bf16_unavailable() is None:
            step("OpenVINO bf16 engine (built when a visitor first asks for bf16)", lambda: _warm(classifier, "bf16"))
    step("Grad-CAM at another layer (a gradient trace)",
         lambda: classifier.grad_cam(prediction, prediction.top[0].index, _other_layer(model)))
    step("feature maps of one layer (a traced extractor)",
         lambda: classifier.feature_maps(prediction, _spatial(model)[1]))
    step("the lesion study (the network's own layers, batched)", lambda: _lesions(classifier, arch, prediction))
    step("receptive fields (the network and its plain twin)", lambda: _fields(classifier, arch, prediction))
    step("the shortcut probe", lambda: _shortcuts(classifier, arch, prediction))
    return parts


def _build(arch: str):
    import resnet  # noqa: PLC0415

    return resnet.build(arch, seed=0)


def _classifier(model, arch: str):
    from resnet.inference import Classifier  # noqa: PLC0415

    return Classifier(model, pretrained=False, weights_source="random (memory budget)", arch=arch, engine="tf",
                      precision="fp32")


def _predict(classifier):
    from resnet.paths import FIRST_SAMPLE  # noqa: PLC0415

    return classifier.classify([FIRST_SAMPLE.read_bytes()], names=[FIRST_SAMPLE.name])[0]


def _warm(classifier, precision: str):
    import numpy as np  # noqa: PLC0415

    from resnet import engines  # noqa: PLC0415

    # As the server makes it: throughput streams, each of its requests warm (each holds its own buffers).
    engine = engines.make_engine(classifier.model, "openvino", precision, hint="throughput")
    engine.warm(np.zeros((1, *classifier.input_size, 3), np.float32))
    return engine


def _spatial(model) -> list[str]:
    from resnet.explaining import spatial_layers  # noqa: PLC0415

    return spatial_layers(model)


def _other_layer(model) -> str:
    names = _spatial(model)
    return names[(2 * len(names)) // 3]  # in ResNet-50's fourth stage: not the layer the answer's CAM comes from


def _lesions(classifier, arch: str, prediction):
    from resnet.lesion import LesionNet  # noqa: PLC0415

    net = LesionNet(classifier.model, arch)
    net.each_block(prediction.model_input)
    return net


def _fields(classifier, arch: str, prediction):
    from resnet.receptive import FieldProbe, plain_twin  # noqa: PLC0415

    probes = FieldProbe(classifier.model), FieldProbe(plain_twin(classifier.model, arch))
    layer = _spatial(classifier.model)[len(_spatial(classifier.model)) // 2]
    height, width = classifier.model.get_layer(layer).output.shape[1:3]
    for probe in probes:
        probe.field(layer, (height // 2, width // 2), prediction.model_input[None])
    return probes


def _shortcuts(classifier, arch: str, prediction):
    from resnet.shortcuts import ShortcutProbe  # noqa: PLC0415

    probe = ShortcutProbe(classifier.model, arch)
    probe(prediction.model_input)
    return probe


def format_parts(parts: list[Part]) -> list[str]:
    width = max(len(part.name) for part in parts)
    lines = [f"{part.name:<{width}}  {part.added_mb:+8.0f} MB  (process {part.total_mb:,.0f} MB)"
             + (f"  {part.note}" if part.note else "") for part in parts]
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m resnet.memory_budget", description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--json", action="store_true", help="one JSON list of parts on standard output")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parts = measure(args.arch)
    print(json.dumps([asdict(part) for part in parts]) if args.json else "\n".join(format_parts(parts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
