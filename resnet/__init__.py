"""ResNet Explorer's library: residual networks built from their blocks, and what we show of them.

Plain values in; models, tables, figures and DOT out. Never imports streamlit.

Importing the package imports no TensorFlow: the rooms a page needs without a network (decoding, cropping, uploads,
limits, quotas, labels) stay light, so a page served by a separate network tier (`RESNET_SERVE_URL`) never loads
it. The network-building names below are looked up on first use.
"""

import importlib
import os

# TensorFlow reads this when it first touches a GPU: without it the first process takes the whole card's memory and
# a second app process (or the gradient lab beside the classifier) finds none left.
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")

_LAZY = {"ARCHITECTURES": "resnet.architectures", "Architecture": "resnet.architectures",
         "build": "resnet.architectures", "locate": "resnet.naming"}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'resnet' has no attribute {name!r}")
