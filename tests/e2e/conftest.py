"""Browser tests: the app started with the README's own command, driven by Debian's Chromium through Playwright.

`make test` installs Chromium (`make chromium`); `make test-fast` leaves these tests out. CHROMIUM=/path overrides
the browser; E2E_URL=http://localhost:8501 tests a server you started yourself instead of starting one.
"""

import os
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.e2e.app_server import AppServer
from tests.e2e.streamlit_page import CHROMIUM, CHROMIUM_ARGS, StreamlitPage

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="session")
def app_url():
    """The app's base URL: one started here for the session, or E2E_URL's (a server you run yourself)."""
    if os.environ.get("E2E_URL"):
        yield os.environ["E2E_URL"].rstrip("/") + "/"
        return
    with AppServer(ARTIFACTS / "server.log") as server:
        yield server.url


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make chromium` (Debian/Ubuntu) or set CHROMIUM=/path/to/it")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@contextmanager
def browser_session(browser, base_url: str):
    """A fresh browser context (its own Streamlit session); no exception box or console error allowed in it."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    page = StreamlitPage(context.new_page(), base_url, ARTIFACTS)
    try:
        yield page
        page.assert_healthy()
    finally:
        context.close()


@pytest.fixture(scope="session")
def opened_app(app_url, browser):
    """The app after its first visitor came in through the front page, as a class usually does (test_links.py
    checks a first visit through a page's own link, on a server of its own)."""
    with browser_session(browser, app_url) as first:
        first.open(title="ResNet Explorer")
    return app_url


@pytest.fixture
def ui(opened_app, browser):
    with browser_session(browser, opened_app) as page:
        yield page
