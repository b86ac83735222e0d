"""Judging a trained lab net on the images it never trained on: loss, accuracy, accuracy per class, and the
confusion matrix (rows: the true class, columns: the class the net answered), whose cells keep their images.

The forward pass is the network in inference mode (BatchNorm on its moving statistics), as `keras.Model.evaluate`
runs it; the loss is the mean cross-entropy plus the network's own regularisation losses, as `evaluate` reports it.
The cross-entropy is taken from the classifier's logits, as Keras takes it from a softmax's output: from the
probabilities it would be clipped at −log 1e-7 ≈ 16 per image, and an untrained net's loss would look bounded.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from resnet.datasets import HeldOut, lab_input

EVALUATION_BATCH = 256  # images per forward pass: held-out sets are capped (limits.max_heldout_images) near this


@dataclass(frozen=True)
class HeldOutResult:
    class_names: tuple[str, ...]
    loss: float
    confusion: np.ndarray  # (classes, classes) int: row = true class, column = answered class
    predictions: np.ndarray  # (n,) the class answered for each held-out image, in the HeldOut's order

    @property
    def counts(self) -> tuple[int, ...]:
        """Held-out images per true class: the confusion matrix's row sums."""
        return tuple(self.confusion.sum(axis=1).tolist())

    @property
    def accuracy(self) -> float:
        total = int(self.confusion.sum())
        return float(np.trace(self.confusion) / total) if total else float("nan")

    @property
    def class_accuracy(self) -> tuple[float, ...]:
        """Per class: the share of its held-out images answered right (NaN for a class with none held out)."""
        rows = self.confusion.sum(axis=1)
        return tuple(float(hit / row) if row else float("nan") for hit, row in zip(np.diag(self.confusion), rows))

    def cell(self, labels: np.ndarray, true: int, answered: int) -> np.ndarray:
        """Indices (into the held-out images) of the images of class `true` the net answered as `answered`."""
        return np.flatnonzero((labels == true) & (self.predictions == answered))

    def to_dict(self) -> dict:
        """The CLI's "heldout": plain JSON values (null where nothing was held out to measure)."""
        return {"classes": list(self.class_names), "counts": list(self.counts), "loss": json_number(self.loss),
                "accuracy": json_number(self.accuracy), "class_accuracy": list(map(json_number, self.class_accuracy)),
                "confusion": self.confusion.tolist()}


def json_number(value: float) -> float | None:
    """NaN (a class with no held-out image has no accuracy) as JSON's null: NaN is not JSON."""
    return None if value != value else value


class Evaluator:
    """Loss and answers of `model` on one held-out set, in inference mode; one traced forward pass, reused for
    every evaluation of the same model (its weights may change in between: the line and the slice move them)."""

    def __init__(self, model: keras.Model, heldout: HeldOut):
        self.model, self.heldout = model, heldout
        self._inputs = lab_input(heldout.images)
        head = model.layers[-1]  # the lab's nets end in a Dense softmax classifier
        features = keras.Model(model.inputs[0], head.input)
        signature = [tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)]
        self._logits = tf.function(
            lambda x: tf.matmul(features(x, training=False), head.kernel) + (head.bias if head.use_bias else 0.0),
            input_signature=signature)

    def logits(self) -> np.ndarray:
        chunks = [self._logits(tf.constant(self._inputs[start:start + EVALUATION_BATCH])).numpy()
                  for start in range(0, len(self._inputs), EVALUATION_BATCH)]
        return np.concatenate(chunks) if chunks else np.empty((0, self.model.output_shape[-1]), np.float32)

    def loss(self, logits: np.ndarray | None = None) -> float:
        """Mean cross-entropy on the held-out images (plus regularisation), at the model's weights now."""
        logits = self.logits() if logits is None else logits
        if not len(logits):
            return float("nan")
        logits = logits.astype(np.float64)
        top = logits.max(axis=-1)
        log_sum = top + np.log(np.exp(logits - top[:, None]).sum(axis=-1))
        cross_entropy = log_sum - logits[np.arange(len(logits)), self.heldout.labels]
        regularisation = sum(float(loss) for loss in self.model.losses)
        return float(np.mean(cross_entropy)) + regularisation

    def __call__(self) -> HeldOutResult:
        logits = self.logits()
        classes = len(self.heldout.class_names)
        predictions = np.argmax(logits, axis=-1).astype(np.int32)
        confusion = np.zeros((classes, classes), np.int64)
        np.add.at(confusion, (self.heldout.labels, predictions), 1)
        return HeldOutResult(self.heldout.class_names, self.loss(logits), confusion, predictions)


def evaluate(model: keras.Model, heldout: HeldOut) -> HeldOutResult:
    return Evaluator(model, heldout)()
