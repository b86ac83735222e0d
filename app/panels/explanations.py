"""The Predict page's explanations: a ranked class's Grad-CAM over the crop, and the feature maps of a layer.

Grad-CAM at the last feature map comes with the answer (`Prediction.cams`: no gradient, nothing queued); feature
maps run through the network's Explainer (built once per network, by its classifier) in the explanations lane. The
pictures are made once per photo and choice (app/photo_cache.py). In a lecture hall the tier computes them and names
the layers (app.classifier.tier_layers); resnet.explaining (TensorFlow) is imported only in-process.
"""

import streamlit as st

from app import photo_cache
from app.classifier import thin, tier_layers
from app.panels import photo_key
from resnet import images
from resnet.pictures import overlay
from resnet.predict_charts import class_name, heat_figure

FIRST_FEATURE_LAYER = "conv1_relu"


def cam_layer(classifier, prediction) -> str:
    if prediction.cam_layer or thin():
        return prediction.cam_layer or classifier.cam_layer
    from resnet.explaining import grad_cam_layer  # noqa: PLC0415

    return grad_cam_layer(classifier.model)


def feature_layers(classifier) -> list[str]:
    if thin():
        return list(tier_layers(classifier, classifier.arch_name)["spatial_layers"])
    from resnet.explaining import spatial_layers  # noqa: PLC0415

    return spatial_layers(classifier.model)


def grad_cam_part(classifier, prediction, number: int) -> None:
    # Option labels without probabilities: those change with the crop while the widget (and its labels) stays.
    scores = {s.index: s for s in prediction.top}
    class_index = st.selectbox("Grad-CAM for the class", list(scores), format_func=lambda i: class_name(scores[i]),
                               key=photo_key("cam_class", number, prediction))

    def pictures():
        cam = classifier.grad_cam(prediction, class_index)
        layer = cam_layer(classifier, prediction)
        return (images.encoded(overlay(prediction.crop, cam), "JPEG", quality=90),
                heat_figure(cam, f"{layer}: {cam.shape[0]}×{cam.shape[1]} map"))

    overlaid, figure = photo_cache.explanation(prediction, ("grad-cam", class_index), pictures)
    left, right = st.columns(2)
    left.image(overlaid,
               caption=f"Grad-CAM of “{class_name(scores[class_index])}” ({scores[class_index].probability:.1%}) over "
                       "the crop: red is where evidence for it lies")
    right.plotly_chart(figure, key=f"cam_{number}")


def feature_maps_part(classifier, prediction, number: int) -> None:
    names = feature_layers(classifier)
    layer = st.selectbox("Feature maps of the layer", names,
                         index=names.index(FIRST_FEATURE_LAYER) if FIRST_FEATURE_LAYER in names else 0,
                         key=photo_key("layer", number, prediction))

    def picture():
        maps = classifier.feature_maps(prediction, layer, limit=32)
        # Fast PNG (lossless keeps the maps' squares sharp): 22 ms against 37 ms at Pillow's default level.
        return maps.channels, maps.maps.shape[1:], images.encoded(maps.picture(), "PNG", compress_level=1)

    channels, (height, width), encoded = photo_cache.explanation(prediction, ("feature maps", layer), picture)
    # An image, not a heat-map chart: the chart's data for 32 maps of 112×112 was 2.3 MB per session.
    # output_format: left on "auto", Streamlit would take a grey PNG for a JPEG and re-encode it on every rerun.
    st.image(encoded, width="stretch", output_format="PNG",
             caption=f"{layer}: the {len(channels)} most active channels ({height}×{width} each, each scaled "
                     f"to its own range; channels {', '.join(map(str, channels[:8]))}, … row by row)")


def explanations_panel(classifier, prediction, number: int) -> None:
    # Grad-CAM comes with the answer, so the first photo shows it at once; feature maps cost a pass through the
    # network and a picture (about a fifth of the server's CPU for an upload), so they wait to be asked for.
    if st.toggle("Show where it looked (Grad-CAM)", value=number == 0, key=photo_key("explain", number, prediction)):
        grad_cam_part(classifier, prediction, number)
    if st.toggle("Show the feature maps of a layer", key=photo_key("features", number, prediction)):
        feature_maps_part(classifier, prediction, number)
