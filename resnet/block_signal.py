"""One block's signal through its shortcut and its residual branch, as a value (no TensorFlow: a page served by the
network tier rebuilds it from JSON); `resnet.shortcuts` measures it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BlockSignal:
    block: str
    kind: str  # the block's shortcut: identity, projection, zeros or pooled
    shortcut_norm: float  # ‖x‖: what the shortcut hands to the addition
    residual_norm: float  # ‖F(x)‖: what the residual branch adds to it

    @property
    def ratio(self) -> float:
        return self.residual_norm / self.shortcut_norm if self.shortcut_norm else float("inf")

    def to_json(self) -> dict:
        return {"block": self.block, "kind": self.kind, "shortcut_norm": self.shortcut_norm,
                "residual_norm": self.residual_norm, "ratio": self.ratio}

    @classmethod
    def from_json(cls, document: dict) -> BlockSignal:
        """The signal `to_json` wrote (its ratio is computed again, not read)."""
        return cls(str(document["block"]), str(document["kind"]), float(document["shortcut_norm"]),
                   float(document["residual_norm"]))
