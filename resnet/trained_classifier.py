"""A net the gradient lab trained, answering photos the way ResNet-50 does on the Predict page: "the net you trained".

It is a `Classifier` over the trained Keras model (TensorFlow engine, fp32: a lab net is small enough that a
conversion would cost more than it saves), with the run's own class names and the lab's preprocessing, so the page's
top-k, heat maps, Grad-CAM at any layer and feature maps work unchanged. What differs is what the other views
measure on it (they hold the whole trained pair, residual and plain):

- lesions: held-out accuracy with each block removed, for both nets (resnet.lab_lesions), not one photo's answer;
- receptive fields: the trained residual net beside the trained plain twin, not a twin copied from its kernels;
- the shortcuts' signal: the residual net's; a plain net has none.
"""

from __future__ import annotations

import itertools
import threading

from resnet.inference import Classifier
from resnet.lab_lesions import heldout_lesions
from resnet.receptive import FieldProbe
from resnet.shortcuts import ShortcutProbe
from resnet.trained import TrainedNet

_SERIALS = itertools.count(1)  # tells a session's successive runs' nets apart in its photo cache


class TrainedClassifier(Classifier):
    def __init__(self, net: TrainedNet, nets: dict[str, TrainedNet]):
        super().__init__(net.model, pretrained=True, arch=net.arch, engine="tf", precision="fp32", warm_up=False,
                         weights_source=f"trained in this session ({net.steps} steps)", preprocessing="lab",
                         labels=tuple((name, name) for name in net.result.class_names),
                         identity=f"{net.name} trained #{next(_SERIALS)}")
        self.net = net
        self.nets = nets  # the run's pair, the residual net first
        self.title = f"{net.name}, trained in this session"
        self._made: dict[str, object] = {}
        self._making = threading.Lock()

    @classmethod
    def of(cls, name: str, nets: dict[str, TrainedNet]) -> TrainedClassifier:
        """The classifier of the run's net `name`, made once and kept with the net (as long as the session keeps
        the run)."""
        net = nets[name]
        made = net.views.get("classifier")
        if made is None:
            made = net.views["classifier"] = cls(net, nets)
        return made

    def precisions(self) -> tuple[str, ...]:
        return ("fp32",)

    @property
    def residual(self) -> TrainedNet | None:
        return next((net for net in self.nets.values() if not net.plain), None)

    @property
    def plain(self) -> TrainedNet | None:
        return next((net for net in self.nets.values() if net.plain), None)

    def held_out_lesions(self) -> dict[str, TrainedNet]:
        """Every net of the pair with its `lesions` measured (held-out accuracy with each block removed), once."""
        with self.explaining():
            for net in self.nets.values():
                if net.lesions is None:
                    net.lesions = heldout_lesions(net)
        return self.nets

    def field_probes(self) -> tuple[FieldProbe, ...]:
        """Receptive fields of the trained residual net, then of its trained plain twin where the run has one."""
        return self._once("fields", lambda: tuple(FieldProbe(net.model) for net in (self.residual, self.plain)
                                                  if net is not None))

    def shortcut_probe(self) -> ShortcutProbe | None:
        """The residual net's shortcut probe; None when the run trained no residual net."""
        residual = self.residual
        return None if residual is None else self._once("shortcuts",
                                                        lambda: ShortcutProbe(residual.model, residual.arch))

    def _once(self, what: str, make):
        with self._making:
            if what not in self._made:
                self._made[what] = make()
            return self._made[what]
