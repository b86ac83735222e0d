"""How far a unit sees: the theoretical receptive field (a box) and the effective one (a heat map), for the residual
network and its plain twin; on the Predict page over the photo, on the Architecture page over noise.

resnet.receptive (TensorFlow) is imported where a field is measured: a lecture hall's thin page (RESNET_SERVE_URL)
imports this panel without it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

import resnet
from app import photo_cache
from app.classifier import thin, tier_layers
from app.panels import lab_net, photo_key
from app.resources import IN_PROCESS_ONLY

if TYPE_CHECKING:
    from resnet.receptive import FieldProbe

EXPLANATION = (
    "Pick a layer and a unit on its map. The white box is every input pixel that unit can see (its theoretical "
    "receptive field, padding included, so it may reach past the image); the colour is how much it depends on "
    "each one, |∂ unit / ∂ pixel| summed over the colour channels (its effective field; the colour is full at the "
    "top 1% of the pixels it depends on). "
    "Luo et al. (NeurIPS 2016) found the effective field far smaller than the box, and roughly Gaussian. The plain "
    "twin has the same kernels, without the shortcuts.")
TWINS = ("Residual network", "Plain twin (same kernels, no shortcuts)")
RANDOM_SEED = 0  # of the Architecture page's random weights, and said so on the page
_ONE_FIELD_AT_A_TIME = threading.Lock()  # the Architecture page's networks have no classifier lane to queue in


# ---- shared by both pages ------------------------------------------------------------------------------------------

def field_controls(arch: str, layers: list[str], map_size: Callable[[str], tuple[int, int]],
                   key: str) -> tuple[str, tuple[int, int]]:
    """The layer (first shown: the architecture row's `field_layer`) and the unit on its map; `map_size(layer)` is
    the map's height and width."""
    default = resnet.ARCHITECTURES[arch].field_layer
    layer = st.selectbox("Unit in the layer", layers,
                         index=layers.index(default) if default in layers else len(layers) // 2,
                         key=f"{key}_layer")
    height, width = map_size(layer)
    row_column, column_column = st.columns(2)
    # Keyed by layer: each map starts at its own middle, and its bounds are its own.
    row = row_column.number_input(f"Row on its {height}×{width} map", min_value=0, max_value=height - 1,
                                  value=height // 2, key=f"{key}_row_{layer}")
    column = column_column.number_input("Column", min_value=0, max_value=width - 1, value=width // 2,
                                        key=f"{key}_column_{layer}")
    return layer, (int(row), int(column))


def show_fields(fields, layer: str, position: tuple[int, int], crop: np.ndarray | None, jump: int,
                titles: tuple[str, ...] = TWINS) -> None:
    from resnet.residual_charts import field_picture  # noqa: PLC0415

    box = fields[0].box
    height, width = fields[0].heat.shape
    inside = box.clipped(height, width)
    st.caption(f"Theoretical field of {layer} at row {position[0]}, column {position[1]}: {box.size}×{box.size} px "
               f"(rows {box.top}…{box.bottom}, columns {box.left}…{box.right}; neighbouring units are {jump} px "
               f"apart). {inside.size}×{inside.right - inside.left + 1} px of it lie on the {height}×{width} input.")
    for column, title, field in zip(st.columns(len(fields)), titles, fields, strict=True):
        if field.radius_50 is None:
            summary = "the unit does not depend on these pixels at all here (every ReLU on its way is off)"
        else:
            summary = (f"50% of the gradient lies within {field.radius_50:.0f} px of the box's centre, 90% within "
                       f"{field.radius_90:.0f} px (the box's half-width is {box.size // 2} px)")
        column.image(field_picture(field.heat, box, crop), caption=f"{title}: {summary}", width="stretch")


# ---- the Predict page: the photo, through the page's own network ---------------------------------------------------

@st.cache_resource(show_spinner="Preparing the plain twin (the same kernels, no shortcuts)…", max_entries=1)
def photo_probes(_classifier, arch: str, network: int) -> tuple[FieldProbe, FieldProbe]:
    """The page's network and its plain twin holding a copy of its kernels (the one copy: ~100 MB for ResNet-50).
    `network` is id(model), kept unique by the entry holding the model."""
    from resnet.receptive import FieldProbe, plain_twin  # noqa: PLC0415

    return FieldProbe(_classifier.model), FieldProbe(plain_twin(_classifier.model, arch))


def receptive_panel(classifier, prediction, number: int) -> None:
    if not st.toggle("How far a unit sees (receptive fields)", key=photo_key("receptive", number, prediction)):
        return
    st.markdown(EXPLANATION)
    key = photo_key("field", number, prediction)
    titles = TWINS
    if thin():  # the tier measures both networks and names the layers, their maps and jumps
        found = {field["name"]: field for field in tier_layers(classifier, classifier.arch_name)["field_layers"]}
        layer, position = field_controls(classifier.arch_name, list(found), lambda name: tuple(found[name]["map_size"]),
                                         key)
        jump = found[layer]["jump"]

        def measured():
            fields = classifier.fields(prediction, layer, position)
            return fields["residual"], fields["plain"]
    else:
        from resnet.receptive import field_layers  # noqa: PLC0415

        trained = lab_net(classifier)
        if trained:  # the pair the lab trained, not a twin copied from one net
            probes = trained.field_probes()
            titles = tuple(f"{net.name}, as you trained it" for net in (trained.residual, trained.plain) if net)
            st.caption("Here the plain twin is the one the lab trained beside the residual net, on the same images.")
        else:
            probes = photo_probes(classifier, classifier.arch_name, id(classifier.model))
        layer, position = field_controls(classifier.arch_name, field_layers(classifier.arch_name), probes[0].map_size,
                                         key)
        jump = probes[0].jump(layer)

        def measured():
            with classifier.explaining():
                return tuple(probe.field(layer, position, prediction.model_input[np.newaxis]) for probe in probes)

    with st.spinner("Following the gradient back to the pixels…"):
        fields = photo_cache.explanation(prediction, ("fields", layer, position), measured)
    show_fields(fields, layer, position, prediction.crop, jump, titles)


# ---- the Architecture page: random weights and noise, as Luo et al. ------------------------------------------------

@st.cache_resource(show_spinner="Building the network and its plain twin…", max_entries=1)
def random_probes(arch: str) -> tuple[FieldProbe, FieldProbe]:
    """Seeded random weights at the network's own input size, without the classifier. One pair per server: a class
    browsing the table does not hold a pair of networks for each."""
    from resnet.receptive import FieldProbe, plain_twin  # noqa: PLC0415

    model = resnet.build(arch, include_top=False, seed=RANDOM_SEED)
    return FieldProbe(model), FieldProbe(plain_twin(model, arch))


@st.cache_data(show_spinner="Following the gradient back to the pixels…", max_entries=64)
def noise_fields(arch: str, layer: str, position: tuple) -> tuple:
    from resnet.receptive import noise_images  # noqa: PLC0415

    probes = random_probes(arch)
    inputs = noise_images(probes[0].input_shape, resnet.ARCHITECTURES[arch].preprocessing)
    with _ONE_FIELD_AT_A_TIME:
        return tuple(probe.field(layer, position, inputs) for probe in probes)


def architecture_receptive_panel(arch: str) -> None:
    if not st.toggle("How far a unit sees (theoretical and effective receptive field)", key="receptive"):
        return
    if thin():  # the effective field is a gradient through a network built here, and this process holds none
        st.info(f"Receptive fields are not shown here: {IN_PROCESS_ONLY}. The Predict page measures them over a "
                "photo.")
        return
    from resnet.receptive import NOISE_IMAGES  # noqa: PLC0415

    st.markdown(EXPLANATION + f" Here both have random weights (seed {RANDOM_SEED}) and the field is averaged over "
                f"{NOISE_IMAGES} images of random pixels, at the network's own input size.")
    from resnet.receptive import field_layers  # noqa: PLC0415

    probes = random_probes(arch)
    layer, position = field_controls(arch, field_layers(arch), probes[0].map_size, f"field_{arch}")
    show_fields(noise_fields(arch, layer, position), layer, position, None, probes[0].jump(layer))
