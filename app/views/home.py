"""The first page: what ResNet Explorer holds, and the network you pick, built for real."""

import streamlit as st

import resnet
from app.resources import layer_table
from resnet import table
from resnet.architectures import ModelSpec, catalogue
from resnet.errors import UserError

st.title("ResNet Explorer")
st.markdown(
    "Residual networks built from their blocks: **identity** blocks, whose shortcut is the input itself, and "
    "**projection** blocks, whose shortcut is a 1×1 convolution where the shape changes. "
    "ResNet-50 here is, layer for layer, `keras.applications.ResNet50`: its ImageNet weights load into it "
    "and give the same answers."
)

name = st.selectbox("Network", list(resnet.ARCHITECTURES), index=list(resnet.ARCHITECTURES).index("resnet50"),
                    format_func=lambda n: resnet.ARCHITECTURES[n].title)
arch = resnet.ARCHITECTURES[name]
# The same cached table as the Architecture page's: built for real, once per server, and not kept as a model.
try:
    whole = table.totals(layer_table(ModelSpec(arch=name)))
except UserError as exc:  # a lecture hall's thin page whose cache lacks the table: the rest of the page still shows
    st.info(str(exc))
else:
    left, middle, right = st.columns(3)
    left.metric("Parameters", f"{whole['params']:,}")
    middle.metric("Layers", whole["layers"])
    right.metric("Input", "×".join(map(str, arch.input_shape)))
st.caption(f"`{arch.name}` · {arch.source}")

st.subheader("Every network in the table")
st.caption("One table drives every depth. The three ResNet-50s of the course material differ in where a "
           "down-sampling block strides, in conv biases, initialisers, head and layer names.")
st.dataframe(catalogue(), hide_index=True, width="stretch")
