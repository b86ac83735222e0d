"""How this project compiles a network for OpenVINO's CPU runtime: one set of options, and one way to find the outputs,
for the in-process engine (resnet.engines) and the lecture hall's Answer replica (resnet.serving.answer, which
imports no TensorFlow and so cannot import the engines' module)."""

from __future__ import annotations

# OpenVINO's performance hints. Measured on 2 cores (AVX2 EPYC), ResNet-50 fp32, one process: "latency" answers one
# photo in 60.7 ms of wall time and 121 ms of CPU, two callers at once 64.4 ms a photo; "throughput" (2 streams of 1
# thread) one photo in 114 ms, two callers 60.6 ms a photo, 114–118 ms of CPU. In a served class, where the pages'
# threads and the event loop share the cores, the latency mode's two threads wait on each other at every layer:
# 145–150 ms of CPU a photo, against ~118 in a stream of one thread (per-thread CPU of a `make run` server, six
# uploads at once; `python -m resnet bench --only serving` measures the two side by side).
HINTS = ("latency", "throughput")


def check_hint(hint: str) -> None:
    if hint not in HINTS:
        raise ValueError(f"hint must be one of {HINTS}, not {hint!r}")


def compile_config(precision: str, hint: str) -> dict[str, str]:
    """OpenVINO's compile options for `precision` ("fp32" or "bf16") and a performance `hint` (HINTS). The precision
    is explicit: on CPUs with bf16 instructions OpenVINO would otherwise choose bf16 by itself, and fp32 must mean
    what keras.applications computes."""
    check_hint(hint)
    return {"INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32", "PERFORMANCE_HINT": hint.upper()}


def output_places(compiled) -> tuple[int, int | None]:
    """Where a compiled network's probabilities and its final feature map are among its outputs (None: it returns
    no feature map), told by rank, not by position: probabilities are (batch, classes), the feature map has 4 axes."""
    ranks = [output.get_partial_shape().rank.get_length() for output in compiled.outputs]
    return ranks.index(2), (ranks.index(4) if 4 in ranks else None)
