"""ResNet Explorer's library: residual networks built from their blocks, and what we show of them.

Plain values in; models, tables, figures and DOT out. Never imports streamlit.
"""

from resnet.architectures import ARCHITECTURES, Architecture, build, locate

__all__ = ["ARCHITECTURES", "Architecture", "build", "locate"]
