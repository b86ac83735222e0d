"""ResNet Explorer: `streamlit run app/main.py`. Navigation over the views; shared resources live in resources.py.

The page files live in `views/`, not `pages/`: Streamlit would otherwise also discover a `pages/` folder itself and
run a page opened by its URL without this script, so without the path set up below.
"""

import sys
from pathlib import Path

# Streamlit puts app/ on sys.path, not the repository: the views import `resnet` and `app.…` from there.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st  # noqa: E402

from app.classifier import warm_in_background  # noqa: E402
from app.runtime import keep_keras_state  # noqa: E402

st.set_page_config(page_title="ResNet Explorer", page_icon="🧱", layout="wide")
keep_keras_state()  # for servers started with plain `streamlit run` (app/serve.py does it before any run)
warm_in_background()  # one classifier per server, built before the first user asks

VIEWS = Path(__file__).parent / "views"
navigation = st.navigation([
    st.Page(VIEWS / "home.py", title="Overview", icon="🏠", default=True),
    st.Page(VIEWS / "explore.py", title="Architecture", icon="🧭", url_path="explore"),
    st.Page(VIEWS / "predict.py", title="Predict", icon="🔎", url_path="predict"),
    st.Page(VIEWS / "gradients.py", title="Gradient lab", icon="📉", url_path="gradients"),
])
navigation.run()
