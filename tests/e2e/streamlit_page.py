"""A Playwright page on the Streamlit app, with what every browser test needs: waiting for a script run to finish,
the console errors, Streamlit's exception boxes, and full-length screenshots."""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import ConsoleMessage, Locator, Page, WebSocket
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

# Debian's Chromium (`make chromium`); CHROMIUM=/path overrides it. PyPI Playwright's own browser download is not
# used: it needs a host that is not reachable here.
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
DRAWN = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].every(chart => {
    const plot = chart.querySelector('.js-plotly-plot'); return plot && plot.data; })
  && !document.querySelector('[data-testid="stSkeleton"]')"""
RUN_TIMEOUT_MS = 180_000  # the first Predict run builds and warms ResNet-50 on a shared 2-core machine
SENT_TIMEOUT_MS = 15_000  # how long a typed value may take to reach the server and come back as a finished run


def finishes_a_run(payload: bytes | str) -> bool:
    """Whether a websocket frame from the server is its script_finished message (a full run's or a fragment's end):
    what the browser tests and the load script count as a run, instead of the page's transient "running" state."""
    try:
        message = ForwardMsg.FromString(payload if isinstance(payload, bytes) else payload.encode())
    except Exception:  # noqa: BLE001 -- not a ForwardMsg: nothing to count
        return False
    return message.WhichOneof("type") == "script_finished"


def streamlit_base_path_probe(message: ConsoleMessage, base_url: str) -> bool:
    """Opened directly on a page's URL, Streamlit's frontend first asks for <page>/_stcore/health and host-config,
    gets 404, then uses the server root (streamlit/streamlit#7074). Those two 404s are Streamlit's, not the app's."""
    url = message.location.get("url", "")
    return (message.text.startswith("Failed to load resource: the server responded with a status of 404")
            and re.fullmatch(re.escape(base_url) + r"[\w-]+/_stcore/(health|host-config)", url) is not None)


@dataclass
class StreamlitPage:
    page: Page
    base_url: str
    artifacts: Path
    console_errors: list[str] = field(default_factory=list)

    finished_runs: int = 0  # script_finished messages the server sent this page (full runs and fragment runs)
    sent_messages: int = 0  # messages the page sent the server (a widget's new value, a rerun request…)

    def __post_init__(self):
        self.page.on("websocket", self._on_websocket)
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda error: self.console_errors.append(f"uncaught: {error}"))

    def _on_websocket(self, socket: WebSocket) -> None:
        if socket.url.endswith("/_stcore/stream"):
            socket.on("framereceived", self._on_frame)
            socket.on("framesent", lambda _: setattr(self, "sent_messages", self.sent_messages + 1))

    def _on_frame(self, payload) -> None:
        self.finished_runs += finishes_a_run(payload)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not streamlit_base_path_probe(message, self.base_url):
            self.console_errors.append(f"{message.text} (at {message.location.get('url')})")

    # --- navigation and runs -----------------------------------------------------------------------------------

    @property
    def app(self) -> Locator:
        return self.page.get_by_test_id("stApp")

    def open(self, path: str = "", *, title: str) -> None:
        """Load a page by URL and wait until its script has run to the end and its title is shown."""
        self.page.goto(self.base_url + path)
        heading = self.page.get_by_role("heading", name=title, exact=True)
        heading.or_(self.page.get_by_test_id("stException")).first.wait_for(timeout=RUN_TIMEOUT_MS)
        self.wait_idle()
        self.assert_healthy()
        assert heading.count() == 1, f"{self.page.url} shows no heading {title!r}"

    def runs(self) -> int:
        """Script runs the server has finished for this page so far (what it sent, not what the page drew)."""
        return self.finished_runs

    def wait_for_runs(self, more_than: int, timeout: float) -> bool:
        """Wait until the server has finished more than `more_than` runs; False if it has not within `timeout` ms.
        Playwright delivers the websocket's frames to our handlers while it waits, so this waits in small steps."""
        deadline = time.monotonic() + timeout / 1000
        while self.finished_runs <= more_than:
            if time.monotonic() > deadline:
                return False
            self.page.wait_for_timeout(25)
        return True

    def wait_idle(self, after: int | None = None, timeout: float = RUN_TIMEOUT_MS) -> None:
        """Wait until no script run is going on (and, given `after`, until one has finished since that count)."""
        if after is not None and not self.wait_for_runs(after, timeout):
            raise AssertionError(f"the server finished no script run within {timeout / 1000:.0f} s "
                                 f"({self.screenshot('no_run')})")
        self.page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=timeout)
        # The script has finished, but the browser may still be loading the code of a widget or chart it sent (a
        # fast server finishes before plotly has drawn): wait until every chart is drawn and no placeholder is left.
        self.page.wait_for_function(DRAWN, timeout=timeout, polling=100)

    def rerun_after(self, action) -> None:
        """Do `action` (a widget change), then wait for the rerun it causes to finish."""
        before = self.runs()
        action()
        self.wait_idle(after=before)

    def set_numbers(self, values: dict[str, int]) -> None:
        """Type each value into the number input whose label contains its key and press Enter, as a person does,
        waiting each time until the server has run the page with it."""
        for label, value in values.items():
            box = self.page.get_by_test_id("stNumberInput").filter(has_text=label).locator("input")
            before, sent = self.runs(), self.sent_messages
            box.fill(str(value))
            box.press("Enter")
            if not self.wait_for_runs(before, SENT_TIMEOUT_MS):
                what = "sent the value and got no run back" if self.sent_messages > sent else "sent nothing"
                raise AssertionError(f"typing {value} into {label!r} and pressing Enter {what} within "
                                     f"{SENT_TIMEOUT_MS / 1000:.0f} s ({self.screenshot('set_numbers')})")
            self.wait_idle()
            assert box.input_value() == str(value), f"{label!r} shows {box.input_value()} after the run, not {value}"

    # --- widgets -----------------------------------------------------------------------------------------------

    def widget(self, test_id: str, label: str) -> Locator:
        return self.page.get_by_test_id(test_id).filter(
            has=self.page.get_by_test_id("stWidgetLabel").get_by_text(label, exact=True))

    def choose(self, label: str, option: str) -> None:
        """Pick `option` in the selectbox labelled `label`. A click now and then leaves the list of options closed
        (seen on the long Predict page in two runs of three); a person clicks again, and so does this."""
        box = self.widget("stSelectbox", label)
        wanted = self.page.get_by_role("option", name=option, exact=True)
        for _ in range(3):
            box.click()
            try:
                wanted.wait_for(timeout=5_000)
                break
            except PlaywrightTimeoutError:
                self.page.keyboard.press("Escape")
        else:
            picture = self.screenshot("choose")
            raise AssertionError(f"the options of {label!r} never showed {option!r} ({picture})")
        self.rerun_after(wanted.click)

    def button(self, name: str) -> Locator:
        """A button of the page itself (Streamlit's own header has a Stop button while a script runs)."""
        return self.page.get_by_test_id("stMain").get_by_role("button", name=name, exact=True)

    def metric(self, label: str) -> str:
        return self.page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id(
            "stMetricValue").inner_text().strip()

    # --- checks and pictures -----------------------------------------------------------------------------------

    def exception_boxes(self) -> list[str]:
        return [text.strip() for text in self.page.get_by_test_id("stException").all_inner_texts()]

    def assert_healthy(self) -> None:
        boxes = self.exception_boxes()
        assert not boxes, f"Streamlit showed an exception on {self.page.url}:\n" + "\n---\n".join(boxes)
        assert not self.console_errors, f"browser console errors on {self.page.url}:\n" + "\n".join(
            self.console_errors)

    def screenshot(self, name: str) -> Path:
        """The whole page, not just the window: Streamlit scrolls inside its main block, so the window is
        stretched to the block's height for the picture (capped, for very long pages)."""
        path = self.artifacts / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        viewport = self.page.viewport_size
        height = self.page.evaluate(
            "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], [data-testid=stAppViewContainer]')]"
            ".map(e => e.scrollHeight), document.body.scrollHeight)")
        self.page.set_viewport_size({"width": viewport["width"], "height": min(max(height, viewport["height"]), 9000)})
        try:
            self.page.wait_for_timeout(500)  # let lazily drawn canvases (dataframes, charts) paint at the new size
            self.page.screenshot(path=path)
        finally:
            self.page.set_viewport_size(viewport)
        return path
