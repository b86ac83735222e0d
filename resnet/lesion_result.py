"""What a lesion study found for one image, as a value (no TensorFlow: a page served by the network tier rebuilds
it from JSON); `resnet.lesion` computes it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LesionResult:
    """The intact network's probabilities and those of each lesioned one, for one image."""

    removed: tuple[tuple[str, ...], ...]  # the blocks taken out, one tuple per lesioned network
    intact: np.ndarray  # (classes,)
    lesioned: np.ndarray  # (len(removed), classes)

    @property
    def top_class(self) -> int:
        """The intact network's top-1 class."""
        return int(np.argmax(self.intact))

    @property
    def kept(self) -> np.ndarray:
        """The probability each lesioned network gives the intact network's top-1 class."""
        return self.lesioned[:, self.top_class]

    def single_blocks(self) -> dict[str, float]:
        """What each network without one block keeps of the intact top-1 class, by block (lesions of several blocks
        left out)."""
        return {removed[0]: float(kept) for removed, kept in zip(self.removed, self.kept, strict=True)
                if len(removed) == 1}

    def costliest_block(self) -> tuple[str, float]:
        """The block whose removal alone costs the intact top-1 class the most, and what the network keeps without
        it (the first such block on a tie)."""
        return min(self.single_blocks().items(), key=lambda pair: pair[1])

    def to_json(self) -> dict:
        """Every probability, as float32 values written out: `from_json` gives back the same arrays."""
        return {"removed": [list(r) for r in self.removed], "intact": np.asarray(self.intact, np.float32).tolist(),
                "lesioned": np.asarray(self.lesioned, np.float32).tolist()}

    @classmethod
    def from_json(cls, document: dict) -> LesionResult:
        intact = np.asarray(document["intact"], np.float32)
        lesioned = np.asarray(document["lesioned"], np.float32).reshape(len(document["removed"]), intact.shape[-1])
        return cls(removed=tuple(tuple(str(b) for b in r) for r in document["removed"]), intact=intact,
                   lesioned=lesioned)


def removal_name(removed: Sequence[str]) -> str:
    """How one lesion is written on the command line and in its JSON: blocks joined by '+'."""
    return "+".join(removed)
