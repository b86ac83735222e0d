"""The Predict page's lesion study (Veit, Wilber & Belongie 2016): take residual blocks out, watch the answer."""

import numpy as np
import streamlit as st

from app.panels import photo_key
from resnet import images
from resnet.inference import top_scores
from resnet.lesion import LesionNet, LesionResult
from resnet.residual_charts import lesion_depth_figure, top_pair_figure

EXPLANATION = (
    "Veit, Wilber & Belongie (NeurIPS 2016) deleted single blocks of a trained ResNet at test time: the error "
    "barely moved, except at the blocks that down-sample, while deleting one layer of a plain network ruins it. "
    "Here a removed block passes on its shortcut alone — what it outputs when its residual branch is zero.")


@st.cache_resource(show_spinner="Preparing the lesion study…", max_entries=2)
def lesion_net(_classifier, arch: str, network: int) -> LesionNet:
    """One per network, on its own layers. `network` is id(model): the entry keeps that model alive, so no other
    network can have its id while the entry exists."""
    return LesionNet(_classifier.model, arch)


@st.cache_data(show_spinner="Taking the blocks out, one at a time…", max_entries=64)
def lesions(_classifier, _net, network: int, crop: np.ndarray, preprocessing: str, chosen: tuple) -> LesionResult:
    with _classifier.explaining():
        return _net.each_block(images.preprocess(crop, preprocessing), also=[chosen] if chosen else [])


def lesion_panel(classifier, prediction, number: int) -> None:
    if not st.toggle("Take residual blocks out (lesion study)", key=photo_key("lesion", number, prediction)):
        return
    st.markdown(EXPLANATION)
    net = lesion_net(classifier, classifier.arch_name, id(classifier.model))
    names = net.block_names
    chosen = st.multiselect("Blocks to remove together", names, default=[names[len(names) // 2]],
                            key=photo_key("lesion_blocks", number, prediction))
    result = lesions(classifier, net, id(classifier.model), prediction.crop, prediction.preprocessing, tuple(chosen))
    intact = top_scores(result.intact, classifier.labels)
    if chosen:
        removed = result.removed[-1]
        st.plotly_chart(top_pair_figure(intact, top_scores(result.lesioned[-1], classifier.labels),
                                        " + ".join(removed), pretrained=classifier.pretrained),
                        key=f"lesion_top_{number}")
    st.plotly_chart(lesion_depth_figure(result, net.blocks, intact[0], pretrained=classifier.pretrained),
                    key=f"lesion_depth_{number}")
    worst, kept = result.costliest_block()
    st.caption(f"Each bar is the network without one block ({len(names)} networks, computed as one batch). "
               f"Removing {worst} costs the most: {result.intact[result.top_class]:.1%} → {kept:.1%}.")
