"""What this machine computes on: the GPU TensorFlow found (if any), the CPU and its instructions, and which
precisions run fast here. Facts only; `resnet.engines` decides what to do with them.

GPU memory growth is switched on in `resnet/__init__.py` (TF_FORCE_GPU_ALLOW_GROWTH, before TensorFlow starts), so
several app processes can share one card instead of the first one taking all of its memory.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass

import tensorflow as tf

from resnet.precisions import PRECISIONS  # noqa: F401 -- defined where a page reads it without TensorFlow

# CPU flags (as /proc/cpuinfo names them) that give bfloat16 arithmetic in hardware. Without one of them bf16 is
# emulated, which is slower than fp32 (measured: 188 ms against 66 ms a ResNet-50 on an AVX2-only CPU).
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
BF16_GPU_COMPUTE_CAPABILITY = (8, 0)  # Ampere and later have bf16 tensor cores


@dataclass(frozen=True)
class Gpu:
    name: str
    compute_capability: tuple[int, int] | None


def gpus() -> list[Gpu]:
    """The GPUs TensorFlow can use (none when the CPU-only TensorFlow is installed: see README, "On a GPU")."""
    found = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        found.append(Gpu(details.get("device_name", device.name), details.get("compute_capability")))
    return found


def has_gpu() -> bool:
    return bool(gpus())


def device_name(gpu_list: list[Gpu] | None = None) -> str:
    """The GPU TensorFlow runs on, by name, or "CPU (<model name>)"."""
    gpu_list = gpus() if gpu_list is None else gpu_list
    return f"GPU ({gpu_list[0].name})" if gpu_list else cpu_name()


@functools.cache
def cpu_name() -> str:
    model = _cpuinfo_field("model name")
    return f"CPU ({model})" if model else "CPU"


@functools.cache
def cpu_flags() -> frozenset[str]:
    return frozenset(_cpuinfo_field("flags").split())


def bf16_unavailable(gpu_list: list[Gpu] | None = None, flags: frozenset[str] | None = None,
                     openvino_bf16: bool | None = None) -> str | None:
    """None when bfloat16 runs in hardware here; otherwise why not, in one sentence for the user.

    On a GPU TensorFlow computes bf16 itself (compute capability 8.0 or newer); on a CPU OpenVINO does, where the
    CPU has bf16 instructions (OpenVINO says so as its "BF16" capability).
    """
    gpu_list = gpus() if gpu_list is None else gpu_list
    if gpu_list:
        capability = gpu_list[0].compute_capability
        if capability is not None and tuple(capability) >= BF16_GPU_COMPUTE_CAPABILITY:
            return None
        return (f"{gpu_list[0].name} has no bfloat16 tensor cores (compute capability "
                f"{'.'.join(map(str, capability or ('?',)))}, bf16 needs 8.0 or newer)")
    flags = cpu_flags() if flags is None else flags
    if not flags.intersection(BF16_CPU_FLAGS):
        return (f"this CPU has no bfloat16 instructions ({' or '.join(BF16_CPU_FLAGS)}), so bf16 would be slower "
                "than fp32 here")
    if openvino_bf16 is None:
        openvino_bf16 = _openvino_has_bf16()
    if not openvino_bf16:
        return "OpenVINO, which runs bf16 on a CPU, is not installed or does not offer BF16 on this CPU"
    return None


@functools.cache
def _openvino_has_bf16() -> bool:
    try:
        openvino = import_openvino()
    except ImportError:
        return False
    return "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def import_openvino():
    """OpenVINO, with its converter's telemetry off.

    Unless ~/intel/openvino_telemetry says no, each `convert_model` reports to Google Analytics: it forks the whole
    process to send (a serving process's ~600 MB of pages, twice per conversion), writes into the user's home and
    reaches for the internet. A classroom server does none of that. With `openvino_telemetry` unimportable, the
    converter falls back to the no-op stub it ships for installs without that package.
    """
    if "openvino_telemetry" not in sys.modules:
        sys.modules["openvino_telemetry"] = None  # an import of it now raises ImportError
    import openvino  # noqa: PLC0415 -- optional dependency

    return openvino


def _cpuinfo_field(name: str) -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.split(":", 1)[0].strip() == name:
                    return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return ""
