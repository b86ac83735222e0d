"""The Predict page's lesion study (Veit, Wilber & Belongie 2016): take residual blocks out, watch the answer."""

import streamlit as st

from app import photo_cache
from app.panels import photo_key
from resnet.inference import top_scores
from resnet.lesion import LesionNet
from app.panels.trained_nets import LESIONS
from resnet.residual_charts import lesion_depth_figure, top_pair_figure
from resnet.trained_charts import lesion_figure
from resnet.trained_classifier import TrainedClassifier

EXPLANATION = (
    "Veit, Wilber & Belongie (NeurIPS 2016) deleted single blocks of a trained ResNet at test time: the error "
    "barely moved, except at the blocks that down-sample, while deleting one layer of a plain network ruins it. "
    "Here a removed block passes on its shortcut alone — what it outputs when its residual branch is zero.")


@st.cache_resource(show_spinner="Preparing the lesion study…", max_entries=2)
def lesion_net(_classifier, arch: str, network: int) -> LesionNet:
    """One per network, on its own layers. `network` is id(model): the entry keeps that model alive, so no other
    network can have its id while the entry exists."""
    return LesionNet(_classifier.model, arch)


def lesion_panel(classifier, prediction, number: int) -> None:
    if not st.toggle("Take residual blocks out (lesion study)", key=photo_key("lesion", number, prediction)):
        return
    if isinstance(classifier, TrainedClassifier):
        heldout_lesion_part(classifier, prediction, number)
        return
    st.markdown(EXPLANATION)
    net = lesion_net(classifier, classifier.arch_name, id(classifier.model))
    names = net.block_names
    chosen = st.multiselect("Blocks to remove together", names, default=[names[len(names) // 2]],
                            key=photo_key("lesion_blocks", number, prediction))

    def measured():
        with classifier.explaining():
            result = net.each_block(prediction.model_input, also=[tuple(chosen)] if chosen else [])
        intact = top_scores(result.intact, classifier.labels)
        pair = top_pair_figure(intact, top_scores(result.lesioned[-1], classifier.labels),
                               " + ".join(result.removed[-1]), pretrained=classifier.pretrained) if chosen else None
        worst, kept = result.costliest_block()
        return pair, lesion_depth_figure(result, net.blocks, intact[0], pretrained=classifier.pretrained), (
            f"Each bar is the network without one block ({len(names)} networks, computed as one batch). "
            f"Removing {worst} costs the most: {result.intact[result.top_class]:.1%} → {kept:.1%}.")

    with st.spinner("Taking the blocks out, one at a time…"):
        pair, depth, caption = photo_cache.explanation(prediction, ("lesion", tuple(chosen)), measured)
    if pair is not None:
        st.plotly_chart(pair, key=f"lesion_top_{number}")
    st.plotly_chart(depth, key=f"lesion_depth_{number}")
    st.caption(caption)


def heldout_lesion_part(classifier: TrainedClassifier, prediction, number: int) -> None:
    """A net the lab trained: lesions judged on its held-out images (many answers, not one photo's), for the pair."""
    st.markdown(LESIONS)
    with st.spinner("Removing each block in turn and judging every held-out image…"):
        nets = classifier.held_out_lesions()
    st.plotly_chart(lesion_figure(nets), key=f"lesion_heldout_{number}")
    st.caption(f"Measured on the {sum(classifier.net.heldout.counts)} held-out images of your run, the same for "
               "every photo on this page.")
