"""deploy/nginx.conf for real: two app processes behind nginx, browsers upload through it. An upload and its
pictures reach the process that holds the browser's session only if the proxy keeps each browser on one process."""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.app_server import AppServer, free_port, proxy_config
from tests.e2e.conftest import ARTIFACTS, browser_session

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CUP, CAT = ROOT / "assets" / "samples" / "coffee_cup.jpg", ROOT / "assets" / "samples" / "cat_chelsea.jpg"
BROWSERS = 3
# Each process builds its own ResNet-50 at start; the TensorFlow engine spares each an OpenVINO conversion.
BACKEND_ENV = {"RESNET_ENGINE": "tf"}


@pytest.fixture(scope="module")
def proxied_app(tmp_path_factory):
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    scratch = tmp_path_factory.mktemp("nginx")
    with AppServer(ARTIFACTS / "proxied_1.log", env=BACKEND_ENV) as first, \
            AppServer(ARTIFACTS / "proxied_2.log", env=BACKEND_ENV) as second:
        port = free_port()
        config = scratch / "nginx.conf"
        config.write_text(proxy_config(port, [first.port, second.port], scratch))
        with open(ARTIFACTS / "nginx.log", "wb") as log:
            proxy = subprocess.Popen([nginx, "-c", str(config), "-g", "daemon off;"], stdout=log, stderr=log)
        try:
            yield f"http://localhost:{port}/"
        finally:
            proxy.terminate()
            proxy.wait(10)


def test_each_browser_stays_on_its_process(proxied_app, browser):
    keys = set()
    for _ in range(BROWSERS):
        with browser_session(browser, proxied_app) as ui:
            ui.open(title="ResNet Explorer")
            ui.open("predict", title="Predict")
            ui.rerun_after(lambda: ui.page.locator('[data-testid="stFileUploader"] input[type="file"]')
                           .set_input_files([CUP, CAT]))  # two photos of the visitor's own (the example steps aside)
            assert ui.page.get_by_role("heading", name="coffee_cup.jpg").count() == 1
            crops = ui.page.get_by_test_id("stImage").filter(has_text="What the network saw").locator("img")
            assert crops.count() == 2
            for i in range(crops.count()):  # the pictures come from the session's own process
                crops.nth(i).scroll_into_view_if_needed()
                assert crops.nth(i).evaluate("img => img.complete && img.naturalWidth") == 224
            keys |= {c["value"] for c in ui.page.context.cookies() if c["name"] == "resnet_explorer_backend"}
    assert len(keys) == BROWSERS  # each browser got its own key, so the class spreads over the processes
