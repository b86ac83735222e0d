"""resnet.devices: what the machine computes on, and where bf16 is fast. GPUs are described as plain values."""

from resnet import devices
from resnet.devices import Gpu

A100, T4 = Gpu("NVIDIA A100-SXM4-40GB", (8, 0)), Gpu("Tesla T4", (7, 5))


def test_the_device_on_screen_names_the_gpu_else_the_cpu():
    assert devices.device_name([A100]) == "GPU (NVIDIA A100-SXM4-40GB)"
    assert devices.device_name([]).startswith("CPU")
    assert devices.device_name() == (devices.device_name(devices.gpus()))


def test_bf16_needs_ampere_or_newer_on_a_gpu():
    assert devices.bf16_unavailable([A100]) is None
    reason = devices.bf16_unavailable([T4])
    assert "Tesla T4" in reason and "7.5" in reason and "8.0" in reason


def test_bf16_on_a_cpu_needs_its_instructions_and_openvino():
    flags = frozenset({"avx2", "fma"})
    assert "no bfloat16 instructions" in devices.bf16_unavailable([], flags, openvino_bf16=True)
    with_bf16 = flags | {"avx512_bf16"}
    assert devices.bf16_unavailable([], with_bf16, openvino_bf16=True) is None
    assert "OpenVINO" in devices.bf16_unavailable([], with_bf16, openvino_bf16=False)


def test_this_cpu_is_read_from_proc_cpuinfo():
    assert devices.cpu_name().startswith("CPU")
    assert devices.cpu_flags()  # every x86 and Arm Linux lists some
    expected = bool(devices.cpu_flags() & set(devices.BF16_CPU_FLAGS))
    assert (devices.bf16_unavailable([]) is None) <= expected  # never offered without the instructions
