"""What an answer is, without the network that made it: a photo's top-k classes and their heat maps.

No TensorFlow here: the page reads these values whether the network runs in its own process (`resnet.inference`)
or in the network tier (`resnet.serving`), which sends them as JSON (`Prediction.to_json`, `Prediction.from_json`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from resnet import images
from resnet.weights import class_names

UNTRAINED_LABEL = "UNTRAINED (random weights) — not a real prediction"
DEFAULT_TOP = 5


@dataclass(frozen=True)
class ClassScore:
    index: int
    wnid: str
    label: str
    probability: float


@dataclass(frozen=True)
class Prediction:
    """The top-k classes of one image, and how they were obtained."""

    source: str
    top: tuple[ClassScore, ...]
    latency_ms: float  # the whole call (decode → crop → preprocess → forward → top-k) for its batch
    batch_size: int
    device: str
    engine: str
    pretrained: bool
    crop: np.ndarray = field(repr=False, compare=False)  # the uint8 image the model saw
    preprocessing: str = "caffe"  # how `crop` is scaled for the network (images.preprocess)
    precision: str = "fp32"  # what the forward pass computed in (the one used, not only the one asked for)
    # Each ranked class's heat map at `cam_layer`, from the feature map the forward pass returned with the
    # probabilities (Grad-CAM there, without a gradient: resnet.explaining); empty where the network's head has none.
    cams: dict[int, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    cam_layer: str | None = None

    @property
    def model_input(self) -> np.ndarray:
        """The crop after preprocess_input, made again when asked: a session keeps 150 KB per photo, not 750 KB."""
        return images.preprocess(self.crop, self.preprocessing)

    @property
    def caption(self) -> str:
        """How to introduce these classes to a reader: never as real predictions when the weights are random."""
        return "Top classes" if self.pretrained else UNTRAINED_LABEL

    def to_json(self, *, cam: bool = False, cams: bool = False) -> dict:
        """The answer as JSON; `cam`: with the top-1 class's heat map ({"layer", "class", "map": rows of [0, 1]});
        `cams`: with every ranked class's map as well ({"<class index>": rows}), what `from_json` reads back."""
        document = {
            "file": self.source,
            "top": [{"index": s.index, "label": s.label, "probability": s.probability} for s in self.top],
            "latency_ms": round(self.latency_ms, 3),
            "device": self.device,
            "engine": self.engine,
            "precision": self.precision,
            "pretrained": self.pretrained,
        }
        if cam and self.cam_layer is not None:
            best = self.top[0].index
            document["cam"] = {"layer": self.cam_layer, "class": best, "map": _rows(self.cams[best])}
        if cams and self.cam_layer is not None:
            document["cams"] = {str(c): _rows(m) for c, m in self.cams.items()}
        return document

    @classmethod
    def from_json(cls, document: dict, *, crop: np.ndarray, preprocessing: str = "caffe",
                  labels=None) -> Prediction:
        """The Prediction a `to_json(cam=True, cams=True)` document describes, for the crop the caller sent.
        `labels`: (wnid, label) per class (default: ImageNet's), for the WordNet ids JSON leaves out."""
        labels = labels or class_names()
        top = tuple(ClassScore(int(s["index"]), labels[int(s["index"])][0] if int(s["index"]) < len(labels) else "",
                               str(s["label"]), float(s["probability"])) for s in document["top"])
        maps = {int(c): np.asarray(m, np.float32) for c, m in (document.get("cams") or {}).items()}
        layer = (document.get("cam") or {}).get("layer")
        return cls(source=str(document.get("file", "image")), top=top, latency_ms=float(document.get("latency_ms", 0)),
                   batch_size=int(document.get("batch_size", 1)), device=str(document["device"]),
                   engine=str(document["engine"]), pretrained=bool(document["pretrained"]), crop=crop,
                   preprocessing=preprocessing, precision=str(document["precision"]), cams=maps,
                   cam_layer=layer if maps else None)


def _rows(heat_map: np.ndarray) -> list:
    return np.round(np.asarray(heat_map, np.float64), 6).tolist()


def top_scores(probabilities: np.ndarray, labels, k: int = DEFAULT_TOP) -> tuple[ClassScore, ...]:
    """The k most probable classes, most probable first; `labels` holds (wnid, label) per class."""
    k = max(1, min(k, probabilities.shape[-1]))
    best = np.argpartition(-probabilities, k - 1)[:k]
    best = best[np.argsort(-probabilities[best], kind="stable")]
    return tuple(ClassScore(int(i), *labels[i], float(probabilities[i])) for i in best)


def labels_for(classes: int) -> tuple[tuple[str, str], ...]:
    """(wnid, label) for each output of a network with `classes` outputs: ImageNet's for 1000, numbered otherwise."""
    if classes == 1000:
        return class_names()
    return tuple((f"class_{i}", f"class {i}") for i in range(classes))
