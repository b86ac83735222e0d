"""Predict: photos in (upload, camera, samples), top-5 ImageNet classes out, and what the network looked at.

The same page in-process and in a lecture hall (RESNET_SERVE_URL): there the classifier is the network tier's client,
nothing here imports TensorFlow, and a tier that does not answer is one line on the page, which keeps serving.
"""

import pyarrow
import streamlit as st

import resnet
from app import notices, photo_cache
from app.classifier import get_classifier, thin, tier_errors
from app.panels.explanations import explanations_panel
from app.panels.lesion import lesion_panel
from app.panels.receptive import receptive_panel
from app.panels.shortcuts import shortcuts_panel
from app.panels import session_nets
from resnet import images
from resnet.answers import UNTRAINED_LABEL
from resnet.architectures import WITH_WEIGHTS
from resnet.errors import UserError
from resnet.images import sample_images
from resnet.paths import FIRST_SAMPLE
from resnet.precisions import default_precision
from resnet.predict_charts import top_figure

CROPS = {"center": "Centre crop: scale the short side to 224, cut the middle square out",
         "squash": "Squash: resize the whole photo to 224×224, ignoring its shape"}


# ---- one photo -----------------------------------------------------------------------------------------------------

def show_prediction(classifier, prediction, number: int) -> None:
    st.subheader(prediction.source)
    if not prediction.pretrained:
        st.warning(UNTRAINED_LABEL)
    left, right = st.columns([1, 2])
    crop_picture = photo_cache.explanation(prediction, ("crop",),
                                           lambda: images.encoded(prediction.crop, "JPEG", quality=90))
    height, width = prediction.crop.shape[:2]
    left.image(crop_picture, caption=f"What the network saw ({height}×{width})")
    bars = photo_cache.explanation(prediction, ("top",), lambda: top_figure(prediction.top,
                                                                            pretrained=prediction.pretrained))
    right.plotly_chart(bars, key=f"top_{number}")
    # An Arrow table, which Streamlit sends as it is: from a list of rows it built a pandas frame and converted it on
    # every rerun, 2.3 ms a table against 0.5 ms (AppTest, 2 cores), for each photo on the page.
    table = photo_cache.explanation(prediction, ("table",), lambda: pyarrow.Table.from_pylist(
        [{"rank": rank, "class": s.label, "index": s.index, "probability": round(s.probability, 4)}
         for rank, s in enumerate(prediction.top, 1)]))
    right.dataframe(table, hide_index=True, key=f"table_{number}")
    st.caption(f"{prediction.device} · engine {prediction.engine} · {prediction.precision} · "
               f"{prediction.latency_ms:.0f} ms for "
               f"{prediction.batch_size} photo{'s' if prediction.batch_size > 1 else ''} (decode → top-5, one batch)")
    photo_panels(classifier, prediction, number)
    st.divider()


@st.fragment
def photo_panels(classifier, prediction, number: int) -> None:
    """One photo's explanations and panels, as a fragment: a class, a layer or a switch chosen here reruns this
    photo's part only, not the page with every other photo on it (the uploader and the settings rerun the page)."""
    try:
        explanations_panel(classifier, prediction, number)
        lesion_panel(classifier, prediction, number)
        shortcuts_panel(classifier, prediction, number)
        receptive_panel(classifier, prediction, number)
    except tier_errors() as exc:  # the tier stopped answering after the top-5: the answer above stays
        st.error(notices.tier_down(exc))


def bf16_unavailable(classifier) -> str | None:
    """Why bf16 is not offered, or None: this machine's hardware in-process, the tier's in a lecture hall."""
    if thin():
        return None if "bf16" in classifier.precisions() else "the network server's hardware has no bf16"
    from resnet.devices import bf16_unavailable as here  # noqa: PLC0415 -- TensorFlow's device list

    return here()


def choose_classifier():
    """The network the visitor picks and its shared classifier. In a lecture hall the tier serves the one network it
    was started with (`python -m resnet serve --arch`), and the page offers that one. A tier that does not answer is
    one line, and the page stops there (the next run asks again)."""
    try:
        if thin():
            classifier = get_classifier()
            arch = st.selectbox("Network", [classifier.arch_name], format_func=lambda n: resnet.ARCHITECTURES[n].title)
        else:
            trained = session_nets()  # the nets this session's gradient lab run trained, if any
            choices = [*WITH_WEIGHTS, *(TRAINED + name for name in trained)]
            arch = st.selectbox("Network", choices, format_func=lambda n: network_title(n, trained),
                                help="Train a net in the Gradient lab and it joins this list for your session.")
            if arch.startswith(TRAINED):
                return arch, trained_classifier(arch.removeprefix(TRAINED), trained), True
            classifier = get_classifier(arch)
        return arch, classifier, classifier.pretrained
    except tier_errors() as exc:
        st.error(notices.tier_down(exc))
        st.stop()
    except UserError as exc:
        # In a lecture hall only the operator's address can be refused here: the visitor reads the tier's line,
        # the log says what was wrong with it.
        st.error(notices.tier_down(exc) if thin() else str(exc))
        st.stop()


TRAINED = "trained:"  # a choice of the Network box that names one of the session's trained nets


def network_title(choice: str, trained: dict) -> str:
    if choice.startswith(TRAINED):
        net = trained[choice.removeprefix(TRAINED)]
        return f"{net.name} — the {'plain' if net.plain else 'residual'} net you trained"
    return resnet.ARCHITECTURES[choice].title


def trained_classifier(name: str, trained: dict):
    from resnet.trained_classifier import TrainedClassifier  # noqa: PLC0415 -- in-process only: TensorFlow

    classifier = TrainedClassifier.of(name, trained)
    # Its class names are the visitor's own (an upload's folders): a caption is not markdown-rendered here.
    st.caption(f"{classifier.title}: {len(classifier.labels)} classes, photos seen at "
               f"{classifier.input_size[0]}×{classifier.input_size[1]} pixels, held-out accuracy "
               f"{classifier.net.result.accuracy:.1%}.")
    return classifier


def precision_switch(classifier) -> str:
    """fp32, or bf16 where the hardware computes it (RESNET_PRECISION=bf16 turns the switch on by default)."""
    unavailable = bf16_unavailable(classifier)
    try:
        wanted = default_precision()
    except UserError as exc:
        st.warning(str(exc))
        wanted = "fp32"
    if wanted == "bf16" and unavailable:
        st.warning(f"RESNET_PRECISION=bf16 was asked for, but {unavailable}: this page computes in fp32.")
    on = st.toggle("Compute in bfloat16 (faster; probabilities within about one point of fp32)",
                   value=wanted == "bf16",
                   disabled=unavailable is not None,
                   help=f"Not offered here: {unavailable}." if unavailable else
                   "fp32 is what keras.applications computes; bf16 keeps 8 bits of mantissa instead of 23.")
    return "bf16" if on and not unavailable else "fp32"


# ---- page ----------------------------------------------------------------------------------------------------------

UPLOADS, CAMERA, SAMPLES, SAMPLES_CHOSEN = "uploads", "camera", "samples", "samples_chosen"


def example_steps_aside() -> None:
    """The sample the page opens with shows it working; once the visitor brings a photo of their own, theirs is the
    page (and every upload's run does not draw the example again). Samples the visitor picked stay."""
    own = st.session_state.get(UPLOADS) or st.session_state.get(CAMERA) is not None
    if own and not st.session_state.get(SAMPLES_CHOSEN) and st.session_state.get(SAMPLES) == [FIRST_SAMPLE.name]:
        st.session_state[SAMPLES] = []


st.title("Predict")
st.markdown("Give the network a photo and see the five ImageNet classes it finds most likely, the crop it actually "
            "saw, and — with Grad-CAM — which part of the photo speaks for each class.")

def page() -> None:
    # A function, not the script's top level: the page's module globals outlive its run (its fragment functions refer
    # to them, and Streamlit keeps those), and a visitor's photos must not, once the run is over.
    arch, classifier, pretrained = choose_classifier()

    if not pretrained:
        st.error(notices.weights_missing(resnet.ARCHITECTURES[arch].title))

    st.session_state.setdefault(SAMPLES, [FIRST_SAMPLE.name])  # the example the page opens with
    uploads = st.file_uploader("Upload photos", type=images.UPLOAD_TYPES, accept_multiple_files=True, key=UPLOADS,
                               on_change=example_steps_aside)
    samples = st.multiselect("…or pick sample photos", list(sample_images()), key=SAMPLES,
                             on_change=lambda: st.session_state.update({SAMPLES_CHOSEN: True}),
                             help="Public-domain and CC0 photos shipped with the app (see assets/README).")
    shot = (st.camera_input("Take a photo", key=CAMERA, on_change=example_steps_aside) if st.toggle("Use the camera")
            else None)
    crop_mode = st.radio("How a photo becomes 224×224", list(CROPS), format_func=CROPS.get, horizontal=True)
    precision = "fp32" if arch.startswith(TRAINED) else precision_switch(classifier)  # a lab net: fp32 only

    named = [(upload.name, upload.getvalue()) for upload in uploads or []]
    if shot is not None:
        named.append(("camera photo", shot.getvalue()))
    named += [(name, sample_images()[name].read_bytes()) for name in samples]
    if not named:
        st.info("Upload a photo, take one, or pick a sample to see what the network makes of it.")
        st.stop()

    try:
        results = photo_cache.classify(classifier, named, crop_mode=crop_mode, precision=precision)
    except tier_errors() as exc:
        st.error(notices.tier_down(exc))
        st.stop()
    for number, result in enumerate(results):
        if isinstance(result, UserError):
            st.error(str(result))
        else:
            show_prediction(classifier, result, number)


page()
