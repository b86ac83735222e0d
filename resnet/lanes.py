"""Two lanes to one network: answers (the forward pass behind a top-5) before explanations (Grad-CAM, feature maps,
lesions, receptive fields).

Each computation already spreads over every core (OpenVINO's and TensorFlow's thread pools), so requests side by
side finish no sooner and each holds its own activations. So each lane admits `width` computations at a time, and
an explanation waits while any answer is computing or waiting: when a class uploads at once, every top-5 (~50 ms)
is out before the Grad-CAMs (~0.1–0.5 s each) take the cores. An explanation already computing is not interrupted;
at most one runs beside an answer.
"""

from __future__ import annotations

import contextlib
import threading


class AnswersFirst:
    def __init__(self, width: int = 1):
        if width < 1:
            raise ValueError(f"width must be at least 1, not {width}")
        self.width = width
        self._changed = threading.Condition()
        self._answers_waiting = self._answering = self._explaining = 0

    @contextlib.contextmanager
    def answer(self):
        with self._changed:
            self._answers_waiting += 1
            self._changed.wait_for(lambda: self._answering < self.width)
            self._answers_waiting -= 1
            self._answering += 1
        try:
            yield
        finally:
            with self._changed:
                self._answering -= 1
                self._changed.notify_all()

    @contextlib.contextmanager
    def explanation(self):
        with self._changed:
            self._changed.wait_for(lambda: self._explaining < self.width and not self._answers_waiting
                                   and not self._answering)
            self._explaining += 1
        try:
            yield
        finally:
            with self._changed:
                self._explaining -= 1
                self._changed.notify_all()
