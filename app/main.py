"""ResNet Explorer: `streamlit run app/main.py`. Navigation over the views; shared resources live in resources.py.

The page files live in `views/`, not `pages/`: Streamlit would otherwise also discover a `pages/` folder itself and
run a page opened by its URL without this script, so without the path set up below.
"""

import sys
from pathlib import Path

# Streamlit puts app/ on sys.path, not the repository: the views import `resnet` and `app.…` from there.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st  # noqa: E402
from streamlit import runtime  # noqa: E402
from streamlit.runtime.scriptrunner import get_script_run_ctx  # noqa: E402

from app import sessions, upload_gate  # noqa: E402
from app.classifier import thin, warm_in_background  # noqa: E402
from app.runtime import keep_keras_state, share_uploaded_bytes  # noqa: E402

st.set_page_config(page_title="ResNet Explorer", page_icon="🧱", layout="wide")
# For servers started with plain `streamlit run` (app/serve.py does both before any run):
keep_keras_state()
share_uploaded_bytes()
warm_in_background()  # one classifier per server, built before the first user asks

VIEWS = Path(__file__).parent / "views"
navigation = st.navigation([
    st.Page(VIEWS / "home.py", title="Overview", icon="🏠", default=True),
    st.Page(VIEWS / "explore.py", title="Architecture", icon="🧭", url_path="explore"),
    st.Page(VIEWS / "predict.py", title="Predict", icon="🔎", url_path="predict"),
    # In a lecture hall the lab's own page would import TensorFlow to train beside the page: a line says so instead.
    st.Page(VIEWS / ("gradients_thin.py" if thin() else "gradients.py"), title="Gradient lab", icon="📉",
            url_path="gradients"),
])
ctx = get_script_run_ctx()
if ctx is not None:
    upload_gate.install_on_running(ctx.uploaded_file_mgr)  # plain `streamlit run`: the store's quotas at least
    if runtime.exists():
        sessions.start_reaper(runtime.get_instance())  # closed tabs' sessions, which Streamlit would keep
    if refused := upload_gate.refusal_line(ctx):
        st.warning(refused)
try:
    navigation.run()
finally:  # st.stop() and reruns end a page by raising
    if ctx is not None:
        upload_gate.sweep(ctx)  # files no widget holds any more (a page left, made-up ids) are let go
