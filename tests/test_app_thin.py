"""The app in a lecture hall (RESNET_SERVE_URL set): its pages import no TensorFlow, read the Architecture tables from
the disk cache, answer photos through the network tier, and say in one line when the tier does not answer.

The pages run in Streamlit's AppTest: in a child process of their own where what they import is the question (this
process has TensorFlow loaded by other tests), and here against a real tier (resnet.serving's Starlette app on the
roles in this process, served by uvicorn on 127.0.0.1: tests/conftest.py's `local_tier`).
"""

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.e2e.app_server import free_port
from tests.fresh_python import run_python
from tests.test_app_predict import page as predict_page  # the Predict page run once, with no exception

ROOT = Path(__file__).resolve().parents[1]
CUP = ROOT / "assets" / "samples" / "coffee_cup.jpg"
HEAVY = ("tensorflow", "keras", "openvino", "ray")
# What a thin page process runs: every page a visitor can open there (app/main.py's navigation: AppTest cannot run a
# st.navigation of files, so its rooms are imported instead), every room and panel.
THIN_PAGES = ("app/views/home.py", "app/views/explore.py", "app/views/predict.py", "app/views/gradients_thin.py")
THIN_MODULES = ("app.serve", "app.runtime", "app.notices", "app.classifier", "app.resources", "app.sessions",
                "app.upload_gate", "app.photo_cache", "app.panels.explanations", "app.panels.lesion",
                "app.panels.receptive", "app.panels.shortcuts")

CHILD = """
import importlib, json, sys
sys.path.insert(0, {root!r})
from streamlit.testing.v1 import AppTest

seen = {{}}
for module in {modules!r}:
    importlib.import_module(module)
for page in {pages!r}:
    at = AppTest.from_file(page, default_timeout=120)
    at.run()
    seen[page] = {{kind: [str(element.value) for element in getattr(at, kind)]
                  for kind in ("exception", "error", "warning", "info", "title")}}
    seen[page]["metric"] = [element.value for element in at.metric]
seen["heavy"] = sorted(name for name in sys.modules if name.split(".")[0] in {heavy!r})
print(json.dumps(seen))
"""


def run_thin_pages(env: dict) -> dict:
    code = CHILD.format(root=str(ROOT), modules=THIN_MODULES, pages=THIN_PAGES, heavy=HEAVY)
    return json.loads(run_python(code, timeout=300, env=env))


@pytest.fixture(scope="module")
def counted_tables(tmp_path_factory):
    """A cache folder holding ResNet-50's table (and its twin's), as `python -m resnet tables` leaves it."""
    from resnet import table
    from resnet.commands.tables import default_specs

    folder = tmp_path_factory.mktemp("thin-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RESNET_CACHE_DIR", str(folder))
        rows = [table.cached_layer_table(spec) for spec in default_specs(["resnet50"])]
    return folder, rows[0]


def test_thin_pages_import_no_tensorflow_and_say_what_they_cannot_show(counted_tables):
    folder, resnet50 = counted_tables
    nobody = f"http://127.0.0.1:{free_port()}"  # a tier that is down: nothing listens there
    seen = run_thin_pages({"RESNET_SERVE_URL": nobody, "RESNET_CACHE_DIR": str(folder)})
    assert seen["heavy"] == [], f"a thin page process loaded {seen['heavy']}"
    for page in THIN_PAGES:
        assert seen[page]["exception"] == [], (page, seen[page]["exception"])
    # The front page and the Architecture page show ResNet-50's counts from the disk cache.
    params = f"{int(resnet50.params.sum()):,}"
    assert params == "25,636,712"
    assert params in seen["app/views/home.py"]["metric"] and params in seen["app/views/explore.py"]["metric"]
    # The page opens on the collapsed diagram, which is drawn from the table on disk: no network, no note.
    assert seen["app/views/explore.py"]["warning"] == []
    assert list((folder / "diagrams").glob("*.svg"))
    # The Predict page, its tier down: one line that says so, no address of the server, and no traceback.
    [down] = seen["app/views/predict.py"]["error"]
    assert "not answering" in down and "127.0.0.1" not in down and "RESNET_" not in down
    # The lab says in one line that it runs in-process only.
    [lab] = seen["app/views/gradients_thin.py"]["info"]
    assert "make run" in lab
    # …and the navigation offers it in place of the lab, which would import TensorFlow.
    navigation = (ROOT / "app" / "main.py").read_text()
    assert '"gradients_thin.py" if thin() else "gradients.py"' in navigation


def test_a_size_nobody_counted_is_one_line_on_the_architecture_page(tmp_path):
    seen = run_thin_pages({"RESNET_SERVE_URL": f"http://127.0.0.1:{free_port()}", "RESNET_CACHE_DIR": str(tmp_path)})
    assert seen["heavy"] == []
    [note] = seen["app/views/explore.py"]["warning"]
    assert note.startswith("Not shown here: this lecture-hall server runs its networks elsewhere")
    assert seen["app/views/explore.py"]["exception"] == [] and seen["app/views/explore.py"]["metric"] == []
    assert "Not shown here" in seen["app/views/home.py"]["info"][0]  # …and the front page says it too


def test_tables_on_disk_are_the_tables_counted(counted_tables, monkeypatch):
    from resnet import table
    from resnet.architectures import ModelSpec

    folder, resnet50 = counted_tables
    monkeypatch.setenv("RESNET_CACHE_DIR", str(folder))
    stored = table.stored_layer_table(ModelSpec(arch="resnet50"))
    missing = table.stored_layer_table(ModelSpec(arch="resnet50", input_size=256))
    pd.testing.assert_frame_equal(stored, resnet50)
    assert missing is None
    assert isinstance(stored.output_shape[0], tuple)


# ---- against a real tier --------------------------------------------------------------------------------------------

def charts(at: AppTest, prefix: str) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart") if f"-{prefix}" in c.proto.id]


@pytest.fixture
def thin_app(monkeypatch):
    """This process's pages told a tier's address (set by each test); the cached classifier forgotten before and
    after, so no test gets another's (in-process or remote)."""
    from app.classifier import get_classifier, tier_layers

    def tell(url: str) -> None:
        monkeypatch.setenv("RESNET_SERVE_URL", url)

    get_classifier.clear()
    tier_layers.clear()
    yield tell
    get_classifier.clear()
    tier_layers.clear()


def test_the_thin_predict_page_shows_the_tiers_top5_and_cam(local_tier, thin_app):
    from app.classifier import get_classifier
    from resnet.serving.client import RemoteClassifier

    thin_app(local_tier)
    at = predict_page()
    assert isinstance(get_classifier(), RemoteClassifier)
    table = at.dataframe[0].value
    assert len(table) == 5 and table["probability"].is_monotonic_decreasing
    # The tier's own answer for the same photo, asked directly: the page shows it, not something of its own.
    [answer] = RemoteClassifier(local_tier).classify_each([("cat", (ROOT / "assets/samples/cat_chelsea.jpg")
                                                           .read_bytes())])
    assert list(table["index"]) == [score.index for score in answer.top]
    assert any("engine openvino" in caption.value for caption in at.caption)
    [cam] = charts(at, "cam_0")  # the top class's Grad-CAM came with the answer
    assert cam["data"][0]["type"] == "heatmap"
    # The panels ask the tier: its residual blocks, its lesion walk and its shortcut signal.
    at.toggle(key="lesion_0_cat_chelsea.jpg").set_value(True).run()
    at.toggle(key="shortcuts_0_cat_chelsea.jpg").set_value(True).run()
    assert not at.exception, at.exception
    [depth] = charts(at, "lesion_depth_0")
    assert sum(len(trace["x"]) for trace in depth["data"]) == 16  # ResNet-50's 16 blocks, each removed in turn
    [signal] = charts(at, "shortcuts_0")
    assert sum(len(trace["x"]) for trace in signal["data"]) == 16  # identity and projection blocks, one trace each


def test_a_tier_that_stops_answering_is_one_line_and_the_page_keeps_serving(answer_role, explain_role, thin_app):
    from resnet.serving.api import LocalBackend, create_app
    from tests.serving_support import served

    with served(create_app(LocalBackend(answer=answer_role, explain=explain_role))) as url:
        thin_app(url)
        at = predict_page()
        assert len(at.dataframe[0].value) == 5
    # The tier is gone: a new photo cannot be answered, and the page says so in one line.
    at.file_uploader[0].upload("cup.jpg", CUP.read_bytes(), "image/jpeg").run()
    assert not at.exception, at.exception
    [down] = [error.value for error in at.error]
    assert "not answering" in down and url not in down and "Traceback" not in down
    # A fresh visitor meets the same line, not a traceback, and the page still has its controls.
    fresh = predict_page()
    assert [error.value for error in fresh.error] == [down]
    assert fresh.selectbox and fresh.title[0].value == "Predict"
