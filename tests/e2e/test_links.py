"""A page's own link (bookmarked, or shared with a class) must work as the very first visit to a fresh server."""

import pytest

from tests.e2e.app_server import AppServer
from tests.e2e.conftest import ARTIFACTS, browser_session

pytestmark = pytest.mark.e2e

TITLES = ["Overview", "Architecture", "Predict", "Gradient lab"]  # the navigation of app/main.py


def test_page_link_as_first_visit(browser):
    with AppServer(ARTIFACTS / "server_links.log") as fresh:
        for path, title in (("gradients", "Gradient lab"), ("explore", "Architecture")):
            with browser_session(browser, fresh.url) as ui:
                ui.open(path, title=title)
                navigation = ui.page.get_by_test_id("stSidebarNav").inner_text()
                assert [t for t in TITLES if t in navigation] == TITLES, navigation
        # Before its first visitor, the server took what it keeps for life out of the cycle collector's way (a full
        # collection walked ~400,000 objects, 0.23 s of CPU each: app/sessions.py).
        assert "objects kept for the server's life are out of the cycle collector's way" in \
            fresh.log_path.read_text(errors="replace")
