"""ResNet Explorer: `streamlit run app/main.py`. Navigation over the pages; shared resources live in resources.py."""

import sys
from pathlib import Path

# Streamlit puts app/ on sys.path, not the repository: the pages import `resnet` and `app.…` from there.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st  # noqa: E402

st.set_page_config(page_title="ResNet Explorer", page_icon="🧱", layout="wide")

PAGES = Path(__file__).parent / "pages"
navigation = st.navigation([
    st.Page(PAGES / "home.py", title="Overview", icon="🏠", default=True),
    st.Page(PAGES / "explore.py", title="Architecture", icon="🧭"),
    st.Page(PAGES / "predict.py", title="Predict", icon="🔎"),
    st.Page(PAGES / "gradients.py", title="Gradient lab", icon="📉"),
])
navigation.run()
