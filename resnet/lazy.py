"""A module imported when one of its names is first looked up: how the light rooms refer to Keras.

The architecture table, the layer tables' arithmetic and the answers' types are read by a page whose networks run
elsewhere (RESNET_SERVE_URL), where importing Keras would load TensorFlow (~700 MB) for nothing. Their modules name
Keras as usual; it is imported the first time something is built.
"""

from __future__ import annotations

import importlib


class OnFirstUse:
    """Stands for the module `name`: `keras = OnFirstUse("keras")`, then `keras.Model` imports it."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str):
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self) -> str:
        return f"<{self._name}, imported on first use>"
