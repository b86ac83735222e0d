"""Two lanes to one network: answers (the forward pass behind a top-5) before explanations (Grad-CAM, feature maps,
lesions, receptive fields).

A computation that spreads over every core (TensorFlow's thread pools, OpenVINO's latency mode) finishes no sooner
beside another, and each holds its own activations. So each lane admits `width` computations at a time, and an
explanation waits while any answer is computing or waiting: when a class uploads at once, every top-5 (~50 ms) is
out before the Grad-CAMs (~0.1–0.5 s each) take the cores. An engine that computes several requests side by side,
each on cores of its own (OpenVINO's throughput mode: `parallel` streams), asks for an answers lane that wide. An
explanation already computing is not interrupted; at most one runs beside the answers.
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
    def answer(self, width: int | None = None):
        """A place among the answers: `width` of them at once (default: the lanes' width), e.g. the parallel
        requests of the engine that will compute it."""
        width = width or self.width
        with self._changed:
            self._answers_waiting += 1
            self._changed.wait_for(lambda: self._answering < width)
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
