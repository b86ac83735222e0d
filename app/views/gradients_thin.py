"""The Gradient lab's place in a lecture hall (RESNET_SERVE_URL): app/main.py shows this page instead of the lab.

The lab is off there, said in one line. A run trains live beside the page (its curves drawn step by step, stopped by
a click) and the nets it trained stay in the visitor's session, to be opened image by image; a thin page process
holds no network to do either with, and the tier's /v1/train answers a whole run at once, not a lab to watch. The
command line and `make run` keep the lab.
"""

import streamlit as st

st.title("Gradient lab")
st.info("The Gradient lab trains its networks live in the page's own server, and this lecture-hall server keeps no "
        "network beside its pages: run the app on your own machine (`make run`) to use the lab.")
