"""ResNet Explorer's library: residual networks built from their blocks, and what we show of them.

Plain values in; models, tables, figures and DOT out. Never imports streamlit.
"""

import os

# TensorFlow reads this when it first touches a GPU: without it the first process takes the whole card's memory and
# a second app process (or the gradient lab beside the classifier) finds none left.
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")

from resnet.architectures import ARCHITECTURES, Architecture, build  # noqa: E402 -- after the GPU setting
from resnet.naming import locate  # noqa: E402 -- after the GPU setting

__all__ = ["ARCHITECTURES", "Architecture", "build", "locate"]
