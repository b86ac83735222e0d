"""The Predict page's lesion study (Veit, Wilber & Belongie 2016): take residual blocks out, watch the answer.

In-process on the page's own network (resnet.lesion, TensorFlow, imported then); in a lecture hall by the tier,
which answers the same LesionResult."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING

import streamlit as st

from app import photo_cache
from app.classifier import thin, tier_layers
from app.panels import lab_net, photo_key
from resnet.answers import top_scores
from resnet.residual_charts import lesion_depth_figure, top_pair_figure

if TYPE_CHECKING:
    from resnet.lesion import LesionNet

EXPLANATION = (
    "Veit, Wilber & Belongie (NeurIPS 2016) deleted single blocks of a trained ResNet at test time: the error "
    "barely moved, except at the blocks that down-sample, while deleting one layer of a plain network ruins it. "
    "Here a removed block passes on its shortcut alone — what it outputs when its residual branch is zero.")


@st.cache_resource(show_spinner="Preparing the lesion study…", max_entries=2)
def lesion_net(_classifier, arch: str, network: int) -> LesionNet:
    """One per network, on its own layers. `network` is id(model): the entry keeps that model alive, so no other
    network can have its id while the entry exists."""
    from resnet.lesion import LesionNet  # noqa: PLC0415

    return LesionNet(_classifier.model, arch)


def blocks_and_walk(classifier, prediction):
    """The network's residual blocks (each with its name and kind) and a function that measures the photo with each
    removed in turn, then with each set in `also`: on the page's network, or by the tier."""
    if thin():
        blocks = [SimpleNamespace(**block) for block in tier_layers(classifier, classifier.arch_name)["blocks"]]
        return blocks, lambda also: classifier.lesions(prediction, also)
    net = lesion_net(classifier, classifier.arch_name, id(classifier.model))

    def walk(also):
        with classifier.explaining():
            return net.each_block(prediction.model_input, also=also)

    return list(net.blocks), walk


def lesion_panel(classifier, prediction, number: int) -> None:
    if not st.toggle("Take residual blocks out (lesion study)", key=photo_key("lesion", number, prediction)):
        return
    trained = lab_net(classifier)
    if trained:
        heldout_lesion_part(trained, number)
        return
    st.markdown(EXPLANATION)
    blocks, walk = blocks_and_walk(classifier, prediction)
    names = [block.name for block in blocks]
    chosen = st.multiselect("Blocks to remove together", names, default=[names[len(names) // 2]],
                            key=photo_key("lesion_blocks", number, prediction))

    def measured():
        result = walk([tuple(chosen)] if chosen else [])
        intact = top_scores(result.intact, classifier.labels)
        pair = top_pair_figure(intact, top_scores(result.lesioned[-1], classifier.labels),
                               " + ".join(result.removed[-1]), pretrained=classifier.pretrained) if chosen else None
        worst, kept = result.costliest_block()
        return pair, lesion_depth_figure(result, blocks, intact[0], pretrained=classifier.pretrained), (
            f"Each bar is the network without one block ({len(names)} networks, computed as one batch). "
            f"Removing {worst} costs the most: {result.intact[result.top_class]:.1%} → {kept:.1%}.")

    with st.spinner("Taking the blocks out, one at a time…"):
        pair, depth, caption = photo_cache.explanation(prediction, ("lesion", tuple(chosen)), measured)
    if pair is not None:
        st.plotly_chart(pair, key=f"lesion_top_{number}")
    st.plotly_chart(depth, key=f"lesion_depth_{number}")
    st.caption(caption)


def heldout_lesion_part(classifier, number: int) -> None:
    """A net the lab trained: lesions judged on its held-out images (many answers, not one photo's), for the pair."""
    from app.panels.trained_nets import LESIONS  # noqa: PLC0415 -- in-process only (the lab's nets): TensorFlow
    from resnet.trained_charts import lesion_figure  # noqa: PLC0415

    st.markdown(LESIONS)
    with st.spinner("Removing each block in turn and judging every held-out image…"):
        nets = classifier.held_out_lesions()
    st.plotly_chart(lesion_figure(nets), key=f"lesion_heldout_{number}")
    st.caption(f"Measured on the {sum(classifier.net.heldout.counts)} held-out images of your run, the same for "
               "every photo on this page.")
