"""The precisions a forward pass computes in, and the one asked for by the environment: read without TensorFlow, so a
lecture hall's thin page (RESNET_SERVE_URL) offers the same switch as an in-process one."""

from __future__ import annotations

import os

from resnet.errors import UserError

PRECISIONS = ("fp32", "bf16")


def default_precision() -> str:
    """The precision asked for by RESNET_PRECISION, else fp32."""
    value = os.environ.get("RESNET_PRECISION") or "fp32"
    if value not in PRECISIONS:
        raise UserError(f"RESNET_PRECISION is {value!r}; use one of {', '.join(PRECISIONS)}")
    return value
