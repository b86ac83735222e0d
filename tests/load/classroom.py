"""A classroom on one server: many browser sessions on the Predict page at once, and a soak of many predictions.

    python tests/load/classroom.py                    # 30 sessions upload a photo at the same moment
    python tests/load/classroom.py --soak 500         # 500 predictions through the page's cached classifier
    python tests/load/classroom.py --soak-ui 500      # the same through one browser session of a server (slow)
    python tests/load/classroom.py --url http://host:8501/ [--server-pid PID]   # against a server you started
    python tests/load/classroom.py --sessions 10 --hostile 1   # …while one visitor floods the uploads (5: five)
    python tests/load/classroom.py --serve --sessions 10       # a lecture hall: nginx → 2 thin replicas → Ray Serve
    python tests/load/classroom.py --serve --kill-replica      # …and the Answer replica killed mid-burst

Without --url it starts the app with `make run PORT=<free port>` (tests/e2e/app_server.py) and samples the resident
memory of the server's whole process tree (/proc) all along. Sessions are real: one headless Chromium (Debian's),
one browser context per student, each its own Streamlit session over its own websocket. Localhost only, bounded in
sessions and time. Exit status 0 only when every target holds; each figure printed is measured in this run.

With --serve it starts issue 20's lecture hall on 127.0.0.1 instead: `python -m resnet serve` (Ray Serve: Answer,
Explain, Train), two `make run` replicas told RESNET_SERVE_URL, and nginx with deploy/nginx.conf in front of them;
memory and CPU are sampled per tier (each Streamlit replica, the Answer replica, the other replicas, Ray's own
processes, nginx) and the issue's targets printed as PASS/FAIL lines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from playwright.async_api import Page, async_playwright  # noqa: E402
from playwright.async_api import TimeoutError as PlaywrightTimeoutError  # noqa: E402

from tests.e2e.app_server import (AppServer, command_line, free_port, proxy_config, rss_of,  # noqa: E402
                                  tree_pids, upload_body)
from tests.e2e.streamlit_page import CHROMIUM, CHROMIUM_ARGS, finishes_a_run, streamlit_base_path_probe  # noqa: E402
from resnet.images import MAX_PHOTOS  # noqa: E402

ARTIFACTS = REPO / "tests" / "e2e" / "artifacts"  # git-ignored
PHOTO = REPO / "assets" / "samples" / "coffee_cup.jpg"
CLASSES = {int(i): label
           for i, (_, label) in json.loads((REPO / "assets" / "imagenet_classes.json").read_text()).items()}
BAR = re.compile(r"(?P<label>.+) \(#(?P<index>\d+)\)")
MAX_SESSIONS = 60  # a bound on what this script will open on one machine
MB = 1024 * 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# ResNet-50's weights as float32: a session loading its own model would add at least this much.
ONE_MODEL_BYTES = 25_636_712 * 4
# app/classifier.py's st.cache_resource spinner: shown to a session only while the classifier is being built for it.
MODEL_LOAD_SPINNER = "Loading the network"
SPINNER_WATCH = """
window.__sawModelLoad = false;
new MutationObserver(() => {
  for (const spinner of document.querySelectorAll('[data-testid="stSpinner"]'))
    if (spinner.textContent.includes(%s)) window.__sawModelLoad = true;
}).observe(document, {subtree: true, childList: true, characterData: true});
""" % json.dumps(MODEL_LOAD_SPINNER)
SOAK_GROWTH_LIMIT_MB = 64.0  # 500 predictions leaking one 224×224×3 float32 input each would add 287 MB

# The labels of the top-5 bar chart drawn under the heading that names the photo (the page's layout).
TOP5_OF = """name => {
  const heading = [...document.querySelectorAll('h3')].find(h => h.innerText.trim() === name);
  if (!heading) return null;
  const chart = [...document.querySelectorAll('.js-plotly-plot')].find(plot =>
    plot.data && plot.data[0].type === 'bar'
      && (heading.compareDocumentPosition(plot) & Node.DOCUMENT_POSITION_FOLLOWING));
  return chart ? chart.data[0].y : null;
}"""

# The server's own time for that photo's batch, from the caption under its heading ("… · 44 ms for 2 photos (…)"):
# decode → top-5, waiting for its turn at the network included; the browsers' rendering is not.
SERVER_MS_OF = """name => {
  const heading = [...document.querySelectorAll('h3')].find(h => h.innerText.trim() === name);
  if (!heading) return null;
  const caption = [...document.querySelectorAll('[data-testid="stCaptionContainer"]')].find(c =>
    /ms for \\d+ photo/.test(c.innerText) && (heading.compareDocumentPosition(c) & Node.DOCUMENT_POSITION_FOLLOWING));
  const found = caption && caption.innerText.match(/([\\d,.]+) ms for \\d+ photo/);
  return found ? parseFloat(found[1].replace(/,/g, '')) : null;
}"""


# Whether the photo's Grad-CAM heat map is drawn under its heading, before the next photo's (the page draws the first
# photo's at once; an upload is the first photo).
CAM_OF = """name => {
  const headings = [...document.querySelectorAll('h3')];
  const at = headings.findIndex(h => h.innerText.trim() === name);
  if (at < 0) return false;
  const next = headings[at + 1];
  return [...document.querySelectorAll('.js-plotly-plot')].some(plot => plot.data && plot.data[0].type === 'heatmap'
    && (headings[at].compareDocumentPosition(plot) & Node.DOCUMENT_POSITION_FOLLOWING)
    && (!next || (next.compareDocumentPosition(plot) & Node.DOCUMENT_POSITION_PRECEDING)));
}"""
CAM_WAIT_MS = 30_000  # after its top-5: the heat map comes with the same answer


# ---- memory -----------------------------------------------------------------------------------------------------

class MemorySampler:
    """Peak and latest resident memory of a process tree (the whole tree: the OpenVINO conversion runs inside the
    server, and anything the server starts counts), sampled every `interval` seconds in a thread.

    `tiers` (--serve): the serving processes as named groups instead, each a function giving its pids now (a killed
    replica's successor is found again); their sum is the server, and each group's peak is kept apart."""

    def __init__(self, pid: int | None, interval: float = 0.2, tiers: dict | None = None):
        self.pid, self.interval = pid, interval
        self.tiers = tiers or {}
        self.peak = self.latest = 0
        self.phase_peaks: dict[str, int] = {}
        self.tier_peaks: dict[str, int] = {}
        self.phase = "start-up"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> int:
        """The serving tree's RSS now (bytes), recording the peaks."""
        if self.pid is None:
            return 0
        if self.tiers:
            each = {name: sum(map(rss_of, pids())) for name, pids in self.tiers.items()}
            for name, rss in each.items():
                self.tier_peaks[name] = max(self.tier_peaks.get(name, 0), rss)
            serving = sum(each.values())
        else:
            serving = sum(rss_of(pid) for pid in tree_pids(self.pid))
        self.latest = serving
        self.peak = max(self.peak, serving)
        self.phase_peaks[self.phase] = max(self.phase_peaks.get(self.phase, 0), serving)
        return serving

    def enter(self, phase: str) -> None:
        self.sample()
        self.phase = phase

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU time used so far by (the server tree, the browser): everything this script started but itself."""
        if self.tiers:
            server = set().union(*(set(pids()) for pids in self.tiers.values()))
        else:
            server = set(tree_pids(self.pid)) if self.pid is not None else set()
        mine = set(tree_pids(os.getpid())) - server - {os.getpid()}
        return sum(map(cpu_of, server)), sum(map(cpu_of, mine))

    def tier_cpu(self) -> dict[str, float]:
        """CPU time used so far by each tier's processes alive now (a killed replica's time goes with it)."""
        return {name: sum(map(cpu_of, pids())) for name, pids in self.tiers.items()}

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()


def cpu_of(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0.0


# ---- one student ------------------------------------------------------------------------------------------------

@dataclass
class Student:
    number: int
    page: Page
    console_errors: list[str] = field(default_factory=list)
    open_s: float = 0.0
    predict_s: float = 0.0
    top5: list[str] | None = None
    server_ms: float | None = None
    cam: bool = False
    error: str | None = None
    finished_runs: int = 0

    async def runs(self) -> int:
        """Script runs the server has finished for this page (script_finished messages on its websocket): what the
        server sent, not the page's "running" attribute, which a short run under load never shows."""
        return self.finished_runs

    async def wait_idle(self, after: int | None, timeout_ms: float) -> None:
        if after is not None:
            deadline = time.monotonic() + timeout_ms / 1000
            while self.finished_runs <= after:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the server finished no run within {timeout_ms / 1000:.0f} s")
                await asyncio.sleep(0.05)
        await self.page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(
            timeout=timeout_ms)

    def on_frame(self, payload) -> None:
        self.finished_runs += finishes_a_run(payload)

    async def open_page(self, base_url: str, path: str, title: str, timeout_ms: float) -> None:
        await self.page.goto(base_url + path, timeout=timeout_ms)
        heading = self.page.get_by_role("heading", name=title, exact=True)
        await heading.or_(self.page.get_by_test_id("stException")).first.wait_for(timeout=timeout_ms)
        if await heading.count() != 1:
            raise RuntimeError(f"{path or '/'} shows no {title!r} page: {await self.problems()}")

    async def open_predict(self, base_url: str, timeout_ms: float) -> None:
        start = time.perf_counter()
        await self.open_page(base_url, "predict", "Predict", timeout_ms)
        # The sample photo picked by default is classified as the page opens: wait for its top-5.
        await self.page.wait_for_function(f"() => ({TOP5_OF})('cat_chelsea.jpg')", timeout=timeout_ms)
        await self.wait_idle(None, timeout_ms)
        self.open_s = time.perf_counter() - start

    async def upload_and_read_top5(self, photo: Path, timeout_ms: float) -> None:
        before = await self.runs()
        start = time.perf_counter()
        await self.page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(photo)
        await self.wait_idle(before, timeout_ms)
        top5 = await self.page.wait_for_function(f"() => ({TOP5_OF})({json.dumps(photo.name)})", timeout=timeout_ms)
        self.predict_s = time.perf_counter() - start
        self.top5 = await top5.json_value()
        self.server_ms = await self.page.evaluate(f"({SERVER_MS_OF})({json.dumps(photo.name)})")
        with contextlib.suppress(PlaywrightTimeoutError):
            await self.page.wait_for_function(f"() => ({CAM_OF})({json.dumps(photo.name)})", timeout=CAM_WAIT_MS)
            self.cam = True

    async def upload(self, photos: list[Path], timeout_ms: float) -> None:
        before = await self.runs()
        await self.page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(photos)
        await self.wait_idle(before, timeout_ms)

    async def choose_cam_class(self, rank: int, timeout_ms: float) -> None:
        """Pick the `rank`-th class (from 0) in the first photo's Grad-CAM selectbox; wait for the rerun."""
        box = self.page.get_by_test_id("stSelectbox").filter(
            has=self.page.get_by_test_id("stWidgetLabel").get_by_text("Grad-CAM for the class", exact=True)).first
        option = self.page.get_by_role("option").nth(rank)
        for _ in range(3):  # a click now and then leaves the options closed (tests/e2e/streamlit_page.py: choose)
            await box.click()
            try:
                await option.wait_for(timeout=5_000)
                break
            except PlaywrightTimeoutError:
                await self.page.keyboard.press("Escape")
        before = await self.runs()
        await option.click()
        await self.wait_idle(before, timeout_ms)

    async def problems(self) -> list[str]:
        found = [f"exception box: {text[:200]}" for text in
                 await self.page.get_by_test_id("stException").all_inner_texts()]
        found += [f"console: {text}" for text in self.console_errors]
        if self.error:
            found.append(self.error)
        if self.top5 is not None:
            found += check_top5(self.top5)
        return found


def check_top5(labels: list[str]) -> list[str]:
    if len(labels) != 5 or len(set(labels)) != 5:
        return [f"not five distinct classes: {labels}"]
    bad = [shown for shown in labels
           if not (m := BAR.fullmatch(shown)) or CLASSES.get(int(m["index"])) != m["label"]]
    return [f"not ImageNet classes: {bad}"] if bad else []


async def new_student(browser, number: int, base_url: str) -> Student:
    context = await browser.new_context(viewport={"width": 1000, "height": 800})
    page = await context.new_page()
    await page.add_init_script(SPINNER_WATCH)
    student = Student(number, page)
    page.on("websocket", lambda socket: socket.on("framereceived", student.on_frame)
            if socket.url.endswith("/_stcore/stream") else None)

    def on_console(message):
        if message.type == "error" and not streamlit_base_path_probe(message, base_url):
            student.console_errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: student.console_errors.append(f"uncaught: {error}"))
    return student


# ---- a hostile visitor ------------------------------------------------------------------------------------------

HOSTILE_PHOTOS, HOSTILE_PUTS, HOSTILE_PHOTO_MB = 40, 60, 19  # a camera folder dropped on the page, then a script
HOSTILE_SCRIPT_THREADS = 4  # the script's PUTs in flight at once
ONE_VISITOR_GROWTH_MB = 400  # issue 18: whatever one visitor sends, the server tree grows by at most this
SERVER_QUOTA_SLACK = 1.25  # …and several at once by at most the server-wide upload quota plus a quarter


@dataclass
class Hostile:
    number: int
    page_accepted: int = 0
    route_statuses: list[int] = field(default_factory=list)
    refusal_line: str = ""
    error: str | None = None


def hostile_photos(folder: Path) -> list[Path]:
    """HOSTILE_PHOTOS phone-sized PNGs (noise, stored uncompressed: 19 MB each), as a camera folder would hold."""
    import numpy as np
    from PIL import Image

    side = int((HOSTILE_PHOTO_MB * MB / 3) ** 0.5)
    first = folder / "IMG_0000.png"
    pixels = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(first, format="PNG", compress_level=0)
    photos = [first]
    for n in range(1, HOSTILE_PHOTOS):
        photos.append(folder / f"IMG_{n:04d}.png")
        photos[-1].write_bytes(first.read_bytes())
    return photos


async def hostile_visitor(browser, number: int, base_url: str, photos: list[Path], timeout_ms: float) -> Hostile:
    """Drop every photo on the Predict page's uploader, then PUT HOSTILE_PUTS more straight to the upload route
    under made-up file ids with the session's own cookie and XSRF token, as a script would."""
    visitor = Hostile(number)
    context = await browser.new_context(viewport={"width": 1000, "height": 800})
    page = await context.new_page()
    puts: list[str] = []
    page.on("request", lambda r: puts.append(r.url) if r.method == "PUT" and "/_stcore/upload_file/" in r.url
            else None)
    try:
        await page.goto(base_url + "predict", timeout=timeout_ms)
        await page.get_by_role("heading", name="Predict", exact=True).wait_for(timeout=timeout_ms)
        await page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(photos)
        refused = page.get_by_text(re.compile("uploads? refused"))
        await refused.first.wait_for(timeout=timeout_ms)
        visitor.refusal_line = (await refused.first.inner_text()).strip()
        # The refusal is drawn first in the run; the photos the page kept come after it.
        kept = page.get_by_role("heading").filter(has_text="IMG_")
        with contextlib.suppress(PlaywrightTimeoutError):
            await kept.nth(MAX_PHOTOS - 1).wait_for(timeout=min(timeout_ms, 60_000))
        visitor.page_accepted = await kept.count()
        session = puts[0].split("/_stcore/upload_file/")[1].split("/")[0]
        cookies = {c["name"]: c["value"] for c in await context.cookies()}
        data = photos[0].read_bytes()
        # From Python, HOSTILE_SCRIPT_THREADS at a time: through Playwright's driver each 19 MB took ~3.7 s of its
        # encoding, which a script does not pay, and five visitors queued behind one another there.
        urls = [f"{base_url}_stcore/upload_file/{session}/{uuid.uuid4()}" for _ in range(HOSTILE_PUTS)]
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(HOSTILE_SCRIPT_THREADS) as pool:
            visitor.route_statuses = list(await asyncio.gather(
                *(loop.run_in_executor(pool, put_upload, url, cookies, data, timeout_ms / 1000) for url in urls)))
    except Exception as exc:  # reported; the class goes on
        visitor.error = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        await context.close()
    return visitor


def put_upload(url: str, cookies: dict[str, str], data: bytes, timeout_s: float) -> int:
    """One file PUT to Streamlit's upload route as its page would send it (multipart, XSRF header and cookie): the
    HTTP status, read even when the server answered before the body was all sent (a refusal at the door does), or 0
    when the connection closed with no answer."""
    body, content_type = upload_body(data, "x.png", "image/png")
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout_s)
    try:
        connection.putrequest("PUT", parts.path)
        for name, value in {"Content-Type": content_type,
                            "Content-Length": str(len(body)), "X-Xsrftoken": cookies["_streamlit_xsrf"],
                            "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}.items():
            connection.putheader(name, value)
        connection.endheaders()
        with contextlib.suppress(ConnectionError):  # refused before the body was read: the answer is waiting
            connection.send(body)
        try:
            return connection.getresponse().status
        except (ConnectionError, http.client.HTTPException):
            return 0
    finally:
        connection.close()


def report_hostile(visitors: list[Hostile], before: int, peak: int, server_quota_mb: int) -> bool:
    ok = True
    print(f"\n== {len(visitors)} hostile visitor(s): {HOSTILE_PHOTOS} × {HOSTILE_PHOTO_MB} MB dropped on the page, "
          f"then {HOSTILE_PUTS} × {HOSTILE_PHOTO_MB} MB PUT past it, {HOSTILE_SCRIPT_THREADS} at a time ==")
    for v in visitors:
        accepted = v.route_statuses.count(204)
        print(f"visitor {v.number}: the page kept {v.page_accepted} of {HOSTILE_PHOTOS} photos; the route took "
              f"{accepted} of {len(v.route_statuses)} PUTs (answers {sorted(set(v.route_statuses))}"
              f"{', 0: closed unanswered' if 0 in v.route_statuses else ''}); "
              f"the page said: {v.refusal_line[:160]!r}")
        if v.error:
            ok = False
            print(f"FAIL: visitor {v.number}: {v.error}")
    growth = peak - before
    limit = ONE_VISITOR_GROWTH_MB * MB if len(visitors) == 1 else int(server_quota_mb * SERVER_QUOTA_SLACK * MB)
    print(f"server tree: {mb(before)} before, peak {mb(peak)} while they sent: grew by {mb(growth)} "
          f"(target ≤ {mb(limit)})")
    if growth > limit:
        ok = False
        print("FAIL: the hostile visitors grew the server past the target")
    return ok


# ---- reports ----------------------------------------------------------------------------------------------------

CPU_PER_UPLOAD_RATIO = 3.0  # issue 19: one upload may cost the server ≤ 3× bytes → top-5, its whole page included
CAM_CLICK_CPU_TARGET_S = 0.05  # issue 19: a Grad-CAM class chosen for one photo of five (its fragment reruns)
FIVE_PHOTOS = [REPO / "assets" / "samples" / name for name in ("astronaut.jpg", "rocket_launch.jpg",
                                                                 "wall_clock_blurred.jpg")]  # with the cup and cat


def bytes_to_top5_s() -> float:
    """Bytes → top-5 at its soonest on this machine, now (`python -m resnet bench --only warm_paths`: every core on
    one photo, run before the server starts and after it stops): what a server's CPU per upload is held to, as a
    ratio measured in this run, not a time from another machine (issue 19 wrote 0.08 s, 3× its Xeon's 28.5 ms). The
    server itself answers in throughput streams, a photo a core (app/classifier.py)."""
    done = subprocess.run([sys.executable, "-m", "resnet", "bench", "--only", "warm_paths", "--runs", "10", "--json"],
                          cwd=REPO, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if done.returncode != 0:
        raise SystemExit(f"python -m resnet bench failed:\n{done.stderr[-2000:]}")
    timings = json.loads(done.stdout)["warm"]["timings"]
    return next(t["median_ms"] for t in timings if t["name"] == "bytes → top-5") / 1000


def p99_target_ms(sessions: int) -> float:
    """Issue 11's bound on the server's decode → top-5 p99: 2 s for up to 10 sessions, 3 s for 30 (and beyond)."""
    return 2000.0 if sessions <= 10 else 3000.0


def streamlit_pid(root: int | None) -> int | None:
    """The Python process serving the app in the tree under `root` (make → sh → python app/serve.py)."""
    if root is None:
        return None
    def serving(pid: int) -> bool:  # not the `sh -c …` make starts it with, whose command line names it too
        words = command_line(pid).split()
        return bool(words) and Path(words[0]).name.startswith("python") and ("app/serve.py" in words or
                                                                             "streamlit" in " ".join(words[:2]))

    return next((pid for pid in tree_pids(root) if serving(pid)), root)


@contextlib.contextmanager
def profiling(pid: int | None, output: Path | None):
    """py-spy sampling `pid` while the block runs, into `output` as collapsed stacks (one line a stack, then its
    count): `python tests/load/profile_summary.py FILE` sums them by where the time goes."""
    if pid is None or output is None:
        yield
        return
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    recorder = subprocess.Popen([spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "50", "--threads",
                                 "--output", str(output), "--nonblocking"], stdout=subprocess.DEVNULL)
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)  # py-spy writes its file when interrupted
        recorder.wait(30)
        print(f"profile of the server: {output}", flush=True)


def percentiles(values: list[float], unit: str = "s") -> str:
    ordered = sorted(values)

    def at(q):  # nearest rank
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]

    digits = 0 if unit == "ms" else 2
    return (f"p50 {statistics.median(ordered):.{digits}f} {unit} · p90 {at(0.9):.{digits}f} {unit} · "
            f"p99 {at(0.99):.{digits}f} {unit} · max {ordered[-1]:.{digits}f} {unit}")


def mb(value: int) -> str:
    return f"{value / MB:,.0f} MB"


# ---- the classroom ----------------------------------------------------------------------------------------------

def browser_cores() -> list[int]:
    """The cores the browsers may use: the upper half (at least one). In a classroom the pages render on the
    students' own machines; here the tabs are kept off the other cores, so the server always has those to itself
    and the latencies show the server rather than 30 tabs rendering on its CPU."""
    cores = sorted(os.sched_getaffinity(0))
    return cores[len(cores) // 2:] if len(cores) > 1 else cores


def confined_browser(folder: Path) -> str:
    """Chromium started under `taskset` on `browser_cores()` (Chromium resets its processes' nice values, not their
    CPU affinity, so niceness would not hold it back)."""
    wrapper = folder / "chromium-confined"
    cores = ",".join(map(str, browser_cores()))
    wrapper.write_text(f'#!/bin/sh\nexec taskset -c {cores} "{CHROMIUM}" "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


async def classroom(base_url: str, sessions: int, memory: MemorySampler, max_rss: int, timeout_s: float,
                    profile: Path | None = None, hostile: int = 0, hall: Hall | None = None,
                    kill_replica: bool = False, figures: dict | None = None) -> bool:
    timeout_ms = timeout_s * 1000
    pid = streamlit_pid(memory.pid) if profile else None
    async with async_playwright() as playwright:
        scratch = Path(tempfile.mkdtemp(prefix="classroom-"))  # the wrapper
        browser = await playwright.chromium.launch(executable_path=confined_browser(scratch), args=CHROMIUM_ARGS)
        students = [await new_student(browser, n, base_url) for n in range(sessions)]

        async def guarded(student, step):
            try:
                await step
            except Exception as exc:  # one student's failure is reported, the others carry on
                student.error = student.error or f"{type(exc).__name__}: {str(exc).splitlines()[0]}"

        # The teacher comes in first, through the front page (a fresh server's first visit by a page's own link is
        # tests/e2e/test_links.py's business), then opens Predict alone: the network is built and warmed once.
        memory.enter("first session (model load)")
        await guarded(students[0], students[0].open_page(base_url, "", "ResNet Explorer", timeout_ms))
        await guarded(students[0], students[0].open_predict(base_url, timeout_ms))
        after_first = memory.sample()
        print(f"first session: page and its prediction in {students[0].open_s:.1f} s; "
              f"server tree RSS {mb(after_first)}", flush=True)

        memory.enter(f"{sessions} sessions open the page")
        start, cpu_before = time.perf_counter(), memory.cpu_seconds()
        with profiling(pid, profile and profile.with_name(profile.stem + "-open" + profile.suffix)):
            await asyncio.gather(*(guarded(s, s.open_predict(base_url, timeout_ms)) for s in students[1:]))
        open_server_cpu, open_browser_cpu = (a - b for a, b in zip(memory.cpu_seconds(), cpu_before))
        print(f"{sessions - 1} more sessions opened the page (each predicting its default sample) in "
              f"{time.perf_counter() - start:.1f} s; CPU: server {open_server_cpu:.1f} s "
              f"({open_server_cpu / max(1, sessions - 1):.2f} s a page), browsers {open_browser_cpu:.1f} s", flush=True)

        memory.enter(f"{sessions} sessions upload at once")
        start, (server_cpu, browser_cpu) = time.perf_counter(), memory.cpu_seconds()
        ready = [s for s in students if s.error is None]
        flooding = []
        if hostile:
            photos = hostile_photos(scratch)
            memory.enter(f"{sessions} upload, {hostile} hostile")
            before_hostile = memory.sample()
            flooding = [asyncio.create_task(hostile_visitor(browser, n, base_url, photos, timeout_ms))
                        for n in range(hostile)]
            await asyncio.sleep(2)  # the floods under way when the class uploads
        tier_cpu_before = memory.tier_cpu()
        killer = None
        if kill_replica and hall is not None:
            async def kill_later():
                await asyncio.sleep(KILL_AFTER_S)
                print(f"killed the Answer replica (pid {hall.kill_answer_replica()}) {KILL_AFTER_S} s into the burst",
                      flush=True)

            killer = asyncio.create_task(kill_later())
        with profiling(pid, profile):
            await asyncio.gather(*(guarded(s, s.upload_and_read_top5(PHOTO, timeout_ms)) for s in ready))
        burst_s = time.perf_counter() - start
        if killer is not None:
            await killer
        tier_cpu_after = memory.tier_cpu()
        burst_tier_cpu = {name: max(0.0, tier_cpu_after[name] - tier_cpu_before.get(name, 0.0))
                          for name in tier_cpu_after}
        visitors = await asyncio.gather(*flooding)
        hostile_peak = memory.phase_peaks.get(memory.phase, 0)
        server_cpu, browser_cpu = (after - before for after, before in zip(memory.cpu_seconds(),
                                                                           (server_cpu, browser_cpu)))
        # One student, five photos on the page, chooses another Grad-CAM class for the first: what that costs.
        memory.enter("one session: a Grad-CAM class, five photos")
        click_cpu = []

        def page_server_cpu() -> float:
            # A Grad-CAM class of a ranked photo comes with its answer: in a lecture hall the click is the page
            # replicas' work alone, and Ray's own processes, busy whatever the class does (~0.1 core here), would
            # swamp it if counted.
            if hall is None:
                return memory.cpu_seconds()[0]
            return sum(cpu for name, cpu in memory.tier_cpu().items() if name.startswith("Streamlit"))
        teacher = students[0]
        if teacher.error is None:
            await guarded(teacher, teacher.upload(FIVE_PHOTOS, timeout_ms))
            for rank in (1, 2, 3):
                before = page_server_cpu()
                await guarded(teacher, teacher.choose_cam_class(rank, timeout_ms))
                click_cpu.append(page_server_cpu() - before)
        memory.enter("done")
        problems = {s.number: await s.problems() for s in students}
        saw_model_load = [await s.page.evaluate("window.__sawModelLoad") for s in students]
        await browser.close()
        shutil.rmtree(scratch, ignore_errors=True)

    ok = True
    if hostile:
        from resnet.upload_quota import UploadQuota

        ok = report_hostile(visitors, before_hostile, hostile_peak, UploadQuota.from_environment().server_mb)
    predicted = [s for s in students if s.top5 is not None and not problems[s.number]]
    print(f"\n== {sessions} sessions uploading {PHOTO.name} at the same moment ({burst_s:.1f} s for all) ==")
    print(f"sessions with their top-5: {len(predicted)} of {sessions}")
    print(f"CPU time in that burst: server {server_cpu:.1f} s, the {sessions} browser tabs {browser_cpu:.1f} s, on "
          f"{os.cpu_count()} cores × {burst_s:.1f} s (the browsers confined to core(s) "
          f"{','.join(map(str, browser_cores()))}, which the server shares)")
    per_upload = server_cpu / max(1, len(ready))
    if hostile:  # the floods' own decoding counts in the server's CPU: their targets above apply instead
        print("(with hostile visitors the CPU per upload is not held to its target: their work is in it)")
    elif figures is not None:
        figures["cpu_per_upload_s"] = per_upload
    # Held to bytes → top-5 by main(), which measures it before the server starts and after it stops; a lecture
    # hall's figures per tier are below.
    print(f"server CPU per upload: {per_upload:.3f} s")
    if click_cpu:
        click = statistics.median(click_cpu)
        print(f"{'the Streamlit replicas' if hall else 'server'} CPU for a Grad-CAM class chosen on one photo of five: "
              f"{click:.3f} s (median of "
              f"{len(click_cpu)}: {', '.join(f'{c:.3f}' for c in click_cpu)}; target ≤ {CAM_CLICK_CPU_TARGET_S} s)")
        if click > CAM_CLICK_CPU_TARGET_S:
            ok = False
            print("FAIL: a click in one photo's explanations costs the server more than the target")
    if predicted:
        print(f"upload → top-5 on the page: {percentiles([s.predict_s for s in predicted])}")
        server_ms = [s.server_ms for s in predicted if s.server_ms is not None]
        print(f"sessions whose page drew the upload's Grad-CAM: {sum(s.cam for s in students)} of {sessions}")
        if hall is not None:  # its target is report_hall's
            if server_ms:
                print(f"page's server, decode → top-5: {percentiles(server_ms, 'ms')} (decode, the trip to the tier "
                      "and its queue included)")
        elif len(server_ms) == len(predicted):
            print(f"server, decode → top-5:     {percentiles(server_ms, 'ms')} (its turn at the network included)")
            p99_target = p99_target_ms(sessions)
            p99 = sorted(server_ms)[max(0, -(-99 * len(server_ms) // 100) - 1)]
            print(f"server decode → top-5 p99 {p99:.0f} ms (target ≤ {p99_target:.0f} ms for {sessions} sessions)")
            if p99 > p99_target:
                ok = False
                print("FAIL: the slowest top-5s take longer than the target")
        else:
            ok = False
            print(f"FAIL: {len(predicted) - len(server_ms)} pages showed no timing caption under their photo")
        print(f"page open → first top-5:    {percentiles([s.open_s for s in students if s.open_s])}")
        print(f"top-5 of session 0: {', '.join(students[0].top5 or [])}")
    for number, found in problems.items():
        if found:
            ok = False
            print(f"session {number}: " + "; ".join(found))
    if len(predicted) != sessions:
        ok = False
    # Loaded once: only a session that finds the classifier missing from Streamlit's cache sees its spinner.
    loaders = [s.number for s, saw in zip(students, saw_model_load) if saw]
    print(f"sessions that waited for the network to be built: {loaders or 'none (built before they came)'}")
    # A thin replica makes its one tier client when its first session comes: one spinner per replica at most.
    if (hall is None and any(number != 0 for number in loaders)) or (hall and len(loaders) > len(hall.apps)):
        ok = False
        print("FAIL: the network was built again for a later session: it is not shared")
    if hall is not None:
        ok &= report_hall(hall, memory, students, problems, sessions, burst_tier_cpu, len(ready),
                          [s.server_ms for s in predicted if s.server_ms is not None])
    elif memory.pid is not None:
        print("\nserver process tree, peak resident memory by phase:")
        for phase, peak in memory.phase_peaks.items():
            print(f"  {phase:<34} {mb(peak)}")
        growth = memory.phase_peaks.get(f"{sessions} sessions upload at once", 0) - after_first
        print(f"peak while serving {mb(memory.peak)} (target ≤ {mb(max_rss)}); the {sessions - 1} other sessions "
              f"added at most {mb(max(growth, 0))} to the first one's {mb(after_first)}, against "
              f"{mb((sessions - 1) * ONE_MODEL_BYTES)} had each loaded its own ResNet-50 weights")
        if hostile:
            print("(with hostile visitors their target above applies instead: the quotas let them hold memory)")
        elif memory.peak > max_rss:
            ok = False
            print("FAIL: peak resident memory while serving is over the target")
        if sessions > 1 and growth >= (sessions - 1) * ONE_MODEL_BYTES:
            ok = False
            print("FAIL: memory grew by a model per session or more")
    return ok



# ---- a lecture hall (--serve) -----------------------------------------------------------------------------------

# Issue 20's targets.
REPLICA_RSS_TARGET_MB = 400  # each Streamlit replica, at 15 sessions
ANSWER_RSS_TARGET_MB = 600  # the Answer replica
HALL_P99_TARGET_MS = {"bf16": 2000.0, "fp32": 3000.0}  # decode → top-5, on the page's server
HALL_REPLICAS = 2
KILL_AFTER_S = 0.4  # --kill-replica: into the burst, as the probe did
TIER_START_S = 900.0  # Ray, the IR export on a first start (a TensorFlow process of its own), the Explain replica


def bf16_in_hardware() -> bool:
    """The CPU computes bf16 itself (what the Answer replica's OpenVINO needs to offer it)."""
    with contextlib.suppress(OSError):
        flags = Path("/proc/cpuinfo").read_text()
        return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))
    return False


@dataclass
class Hall:
    """The lecture hall on 127.0.0.1, started by this script: the tier, the thin Streamlit replicas, nginx."""

    tier: subprocess.Popen
    tier_url: str
    apps: list
    nginx: subprocess.Popen | None = None
    url: str = ""
    precision: str = "fp32"
    killed: list[int] = field(default_factory=list)

    def tier_tree(self) -> list[int]:
        return list(tree_pids(self.tier.pid))

    def replicas(self, deployment: str) -> list[int]:
        """The tier's processes serving `deployment` (Ray titles them ray::ServeReplica:<app>:<deployment>)."""
        return [pid for pid in self.tier_tree() if f"ServeReplica:resnet:{deployment}" in command_line(pid)]

    def tiers(self) -> dict:
        """Each tier's processes, found again at every sample (a killed replica's successor is another process)."""
        named = {f"Streamlit replica {n}": (lambda app=app: list(tree_pids(app.process.pid)))
                 for n, app in enumerate(self.apps, 1)}
        for deployment in ("Answer", "Explain", "Train"):
            named[f"{deployment} replica"] = lambda deployment=deployment: self.replicas(deployment)

        def ray_itself():
            serving = {pid for deployment in ("Answer", "Explain", "Train") for pid in self.replicas(deployment)}
            return [pid for pid in self.tier_tree() if pid not in serving]

        named["Ray's own processes (the driver included)"] = ray_itself
        named["nginx"] = lambda: list(tree_pids(self.nginx.pid)) if self.nginx else []
        return named

    def tier_healthy(self) -> bool:
        with contextlib.suppress(OSError, ValueError):
            with urllib.request.urlopen(f"{self.tier_url}/v1/health", timeout=5) as answer:
                return answer.status == 200
        return False

    def kill_answer_replica(self) -> int | None:
        found = self.replicas("Answer")
        if found:
            os.kill(found[0], signal.SIGKILL)
            self.killed.append(found[0])
        return found[0] if found else None

    def stop(self) -> None:
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.terminate()
            self.nginx.wait(10)
        for app in self.apps:
            app.stop()
        if self.tier.poll() is None:
            # SIGTERM to the driver: Ray shuts its processes down with it (its workers have process groups of their
            # own, so a signal to the driver's group would miss them; Ctrl-C's SIGINT left it all running here).
            left = self.tier_tree()
            self.tier.terminate()
            try:
                self.tier.wait(60)
            except subprocess.TimeoutExpired:
                for pid in left:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)


def start_hall(precision: str, scratch: Path) -> Hall:
    """`python -m resnet serve` on a free port, HALL_REPLICAS `make run` replicas told its address, nginx in front."""
    port = free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / "load-tier.log", "wb")  # noqa: SIM115 - the tier writes to it for its whole life
    tier = subprocess.Popen([sys.executable, "-m", "resnet", "serve", "--port", str(port)], cwd=REPO,
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"})
    log.close()
    hall = Hall(tier, f"http://127.0.0.1:{port}", [], precision=precision)
    print(f"starting the network tier: python -m resnet serve --port {port}", flush=True)
    deadline = time.monotonic() + TIER_START_S
    while not hall.tier_healthy():
        if tier.poll() is not None or time.monotonic() > deadline:
            hall.stop()
            tail = (ARTIFACTS / "load-tier.log").read_text(errors="replace").splitlines()[-30:]
            raise SystemExit("the network tier did not start:\n" + "\n".join(tail))
        time.sleep(1)
    print(f"tier up in {TIER_START_S - (deadline - time.monotonic()):.0f} s at {hall.tier_url}", flush=True)
    try:
        for n in range(1, HALL_REPLICAS + 1):
            app = AppServer(ARTIFACTS / f"load-replica-{n}.log",
                            env={"RESNET_SERVE_URL": hall.tier_url, "RESNET_PRECISION": precision})
            print(f"starting thin replica {n}: RESNET_SERVE_URL={hall.tier_url} {' '.join(app.command)}", flush=True)
            hall.apps.append(app.start())
        listen = free_port()
        config = scratch / "nginx.conf"
        config.write_text(proxy_config(listen, [app.port for app in hall.apps], scratch))
        nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
        if nginx is None:
            raise SystemExit("--serve needs nginx (apt-get install nginx-light)")
        with open(ARTIFACTS / "load-nginx.log", "wb") as nginx_log:
            hall.nginx = subprocess.Popen([nginx, "-c", str(config), "-g", "daemon off;"], stdout=nginx_log,
                                          stderr=nginx_log)
        hall.url = f"http://localhost:{listen}/"
        for _ in range(100):
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{hall.url}_stcore/health", timeout=2):
                    break
            time.sleep(0.1)
    except BaseException:
        hall.stop()
        raise
    return hall


def report_hall(hall: Hall, memory: MemorySampler, students: list[Student], problems: dict, sessions: int,
                burst_cpu: dict[str, float], uploads: int, server_ms: list[float]) -> bool:
    """The lecture hall's figures per tier and issue 20's targets, one PASS or FAIL line each."""
    ok = True

    def verdict(passed: bool, line: str) -> None:
        nonlocal ok
        ok &= passed
        print(f"{'PASS' if passed else 'FAIL'}: {line}")

    print(f"\n== the lecture hall: nginx → {len(hall.apps)} thin Streamlit replicas → Ray Serve ({hall.precision}) ==")
    print(f"{'tier':<44} {'peak RSS':>9} {'CPU in burst':>13} {'CPU per upload':>15}")
    for name in memory.tiers:
        cpu = burst_cpu.get(name, 0.0)
        print(f"{name:<44} {mb(memory.tier_peaks.get(name, 0)):>9} {cpu:>11.2f} s {cpu / max(1, uploads):>13.3f} s")
    total = sum(burst_cpu.values())
    print(f"{'all tiers':<44} {'':>9} {total:>11.2f} s {total / max(1, uploads):>13.3f} s")
    answered = [s for s in students if s.top5 is not None and s.cam and not problems[s.number]]
    verdict(len(answered) == sessions, f"every session got its top-5 and CAM: {len(answered)} of {sessions}"
            + (f" (the Answer replica was killed {KILL_AFTER_S} s into the burst: pid {hall.killed})"
               if hall.killed else ""))
    if server_ms:
        p99 = sorted(server_ms)[max(0, -(-99 * len(server_ms) // 100) - 1)]
        target = HALL_P99_TARGET_MS[hall.precision]
        verdict(p99 <= target, f"p99 decode → top-5 on the page's server {p99:.0f} ms (target ≤ {target:.0f} ms in "
                               f"{hall.precision})")
    else:
        verdict(False, "no page showed its decode → top-5 time")
    replicas = {name: peak for name, peak in memory.tier_peaks.items() if name.startswith("Streamlit")}
    per_replica = sessions / max(1, len(replicas))
    worst = max(replicas.values(), default=0)
    verdict(worst <= REPLICA_RSS_TARGET_MB * MB,
            f"each Streamlit replica ≤ {REPLICA_RSS_TARGET_MB} MB: peak {mb(worst)} with about {per_replica:.0f} "
            f"sessions each (the target is for 15)")
    answer = memory.tier_peaks.get("Answer replica", 0)
    verdict(0 < answer <= ANSWER_RSS_TARGET_MB * MB, f"the Answer replica ≤ {ANSWER_RSS_TARGET_MB} MB: peak "
                                                    f"{mb(answer)}")
    verdict(hall.tier_healthy(), "the tier still answers /v1/health")
    return ok


# ---- the soak ---------------------------------------------------------------------------------------------------

def report_soak(series: list[tuple[int, int]], problems: list[str], where: str) -> bool:
    print(f"\n== soak: {series[-1][0]} predictions {where} ==")
    print("predictions  RSS")
    for done, rss in series:
        print(f"{done:>11}  {mb(rss)}")
    ok = not problems
    for problem in problems:
        print(f"problem: {problem}")
    if len(series) >= 3:
        # From the first checkpoint on: the first calls fill caches (traced functions, allocator pools) once.
        growth = (series[-1][1] - series[1][1]) / MB
        print(f"growth from {series[1][0]} to {series[-1][0]} predictions: {growth:+.1f} MB "
              f"(limit {SOAK_GROWTH_LIMIT_MB:.0f} MB)")
        if growth > SOAK_GROWTH_LIMIT_MB:
            ok = False
            print("FAIL: resident memory keeps growing with predictions")
    return ok


def soak_in_process(predictions: int, every: int) -> bool:
    """The Predict page's work per photo, `predictions` times, through the page's own cached classifier
    (app.classifier.get_classifier, st.cache_resource) in this process: top-5, Grad-CAM, feature maps."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from app.classifier import get_classifier
    from resnet.images import CROP_MODES
    from resnet.explaining import grad_cam_layer
    from resnet.inference import sample_images

    photos = [(name, path.read_bytes()) for name, path in sorted(sample_images().items())]
    classifier = get_classifier("resnet50")
    layer = grad_cam_layer(classifier.model)
    series, problems = [(0, rss_of(os.getpid()))], []
    start = time.perf_counter()
    for done in range(1, predictions + 1):
        name, data = photos[done % len(photos)]
        crop_mode = CROP_MODES[done % len(CROP_MODES)]
        [prediction] = get_classifier("resnet50").classify_each([(name, data)], crop_mode=crop_mode)
        classifier.grad_cam(prediction, prediction.top[0].index, layer)
        classifier.feature_maps(prediction, "conv1_relu", limit=32)
        problems += [f"prediction {done}: {p}" for p in
                     check_top5([f"{s.label} (#{s.index})" for s in prediction.top])]
        if done % every == 0:
            series.append((done, rss_of(os.getpid())))
            print(f"  {done:>4} predictions: RSS {mb(series[-1][1])} "
                  f"({(time.perf_counter() - start) / done * 1000:.0f} ms each)", flush=True)
    if get_classifier("resnet50") is not classifier:
        problems.append("the cached classifier was built again")
    return report_soak(series, problems, f"through app.classifier.get_classifier in one process "
                                         f"(engine {classifier.engine.name})")


async def soak_through_ui(base_url: str, predictions: int, every: int, memory: MemorySampler,
                          timeout_s: float) -> bool:
    """One browser session, `predictions` reruns of the Predict page, each classifying one photo (with its
    Grad-CAM and feature maps, as the page does); the crop choice flips every time, so each rerun predicts again."""
    timeout_ms = timeout_s * 1000
    series: list[tuple[int, int]] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        student = await new_student(browser, 0, base_url)
        page = student.page
        await student.open_page(base_url, "", "ResNet Explorer", timeout_ms)
        await student.open_predict(base_url, timeout_ms)  # prediction 1
        crop = page.get_by_test_id("stRadio").filter(has=page.get_by_text("How a photo becomes 224×224"))
        choices = [crop.get_by_text("Squash", exact=False), crop.get_by_text("Centre crop", exact=False)]
        series.append((1, memory.sample()))
        start = time.perf_counter()
        for done in range(2, predictions + 1):
            before = await student.runs()
            await choices[done % 2].click()
            await student.wait_idle(before, timeout_ms)
            if done % every == 0:
                series.append((done, memory.sample()))
                print(f"  {done:>4} predictions: server tree RSS {mb(series[-1][1])} "
                      f"({(time.perf_counter() - start) / (done - 1):.2f} s per rerun)", flush=True)
        top5 = await page.evaluate(f"() => ({TOP5_OF})('cat_chelsea.jpg')")
        problems = await student.problems() + check_top5(top5 or [])
        await browser.close()
    return report_soak(series, problems, "in one browser session of one server")


# ---- main -------------------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=30, help="simultaneous browser sessions (default 30)")
    parser.add_argument("--soak", type=int, metavar="N",
                        help="instead: N predictions through the page's cached classifier in this process")
    parser.add_argument("--soak-ui", type=int, metavar="N",
                        help="instead: N predictions in one browser session of a server (slower)")
    parser.add_argument("--every", type=int, default=100, help="soak: report RSS every this many predictions")
    parser.add_argument("--url", help="an app already running (default: start one with `make run`)")
    parser.add_argument("--server-pid", type=int, help="with --url: the server's pid, to sample its memory")
    parser.add_argument("--max-rss-gb", type=float, default=1.5, help="peak RSS target of the server tree")
    parser.add_argument("--hostile", type=int, default=0, metavar="N",
                        help="N more visitors flood the uploads while the class uploads (page and route)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds any one step may take")
    parser.add_argument("--profile", type=Path, metavar="FILE",
                        help="sample the server with py-spy during the burst (FILE) and the page opening (FILE-open)")
    parser.add_argument("--serve", action="store_true",
                        help="a lecture hall instead: nginx → 2 thin replicas (RESNET_SERVE_URL) → python -m resnet "
                             "serve, all on 127.0.0.1, measured per tier")
    parser.add_argument("--precision", choices=("bf16", "fp32"),
                        help="--serve: what the pages ask the tier for (default bf16 where the CPU has it)")
    parser.add_argument("--kill-replica", action="store_true",
                        help=f"--serve: kill the Answer replica {KILL_AFTER_S} s into the burst")
    args = parser.parse_args(argv)
    if (args.kill_replica or args.precision) and not args.serve:
        parser.error("--kill-replica and --precision go with --serve")
    if args.serve and (args.url or args.soak or args.soak_ui or args.hostile or args.profile):
        parser.error("--serve starts its own servers and runs the class burst alone")
    if not 1 <= args.sessions <= MAX_SESSIONS:
        parser.error(f"--sessions must be within 1..{MAX_SESSIONS}")
    if not 0 <= args.hostile <= 5:
        parser.error("--hostile must be within 0..5")
    if args.url and not re.match(r"https?://(localhost|127\.0\.0\.1)(:\d+)?/?$", args.url):
        parser.error("--url must be a localhost address: this script loads only a server on this machine")

    if args.soak:
        ok = soak_in_process(args.soak, args.every)
        print("\nPASS" if ok else "\nFAIL")
        return 0 if ok else 1

    if args.serve:
        return lecture_hall(args)

    top5_s = None
    if not args.soak_ui:
        print("measuring bytes → top-5 on this machine (python -m resnet bench --only warm_paths)…", flush=True)
        top5_s = bytes_to_top5_s()
        print(f"bytes → top-5: {top5_s * 1000:.1f} ms", flush=True)
    server = None
    if args.url:
        base_url, pid = args.url.rstrip("/") + "/", args.server_pid
    else:
        server = AppServer(ARTIFACTS / "load-server.log")
        print(f"starting the app: {' '.join(server.command)}", flush=True)
        server.start()
        base_url, pid = server.url, server.process.pid
    memory = MemorySampler(pid).start()
    print(f"app at {base_url}; server tree RSS at start {mb(memory.sample())}", flush=True)
    figures = {}
    try:
        if args.soak_ui:
            ok = asyncio.run(soak_through_ui(base_url, args.soak_ui, args.every, memory, args.timeout))
        else:
            ok = asyncio.run(classroom(base_url, args.sessions, memory, int(args.max_rss_gb * 1024 * MB),
                                       args.timeout, args.profile, args.hostile, figures=figures))
        if server is not None and not server.healthy():
            ok = False
            print("FAIL: the server no longer answers its health check")
        if server is not None and "Traceback" in server.log_path.read_text(errors="replace"):
            ok = False
            print(f"FAIL: the server logged a traceback (see {server.log_path}):\n{server.log_tail()}")
    finally:
        memory.stop()
        if server is not None:
            server.stop()
    if top5_s is not None and "cpu_per_upload_s" in figures:
        # Measured again on the quiet machine: a spell of noise under the first bench would loosen the target, so
        # the faster of the two is what the upload is held to.
        again = bytes_to_top5_s()
        fastest = min(top5_s, again)
        per_upload = figures["cpu_per_upload_s"]
        print(f"bytes → top-5 again, after the run: {again * 1000:.1f} ms; server CPU per upload {per_upload:.3f} s = "
              f"{per_upload / fastest:.1f}× the faster {fastest * 1000:.1f} ms (target ≤ {CPU_PER_UPLOAD_RATIO:.0f}×, "
              f"{CPU_PER_UPLOAD_RATIO * fastest:.3f} s)")
        if per_upload > CPU_PER_UPLOAD_RATIO * fastest:
            ok = False
            print("FAIL: the server spends more CPU per upload than the target")
    print("\nPASS" if ok else "\nFAIL")
    return 0 if ok else 1


def lecture_hall(args) -> int:
    precision = args.precision or ("bf16" if bf16_in_hardware() else "fp32")
    scratch = Path(tempfile.mkdtemp(prefix="lecture-hall-"))
    hall = start_hall(precision, scratch)
    memory = MemorySampler(hall.tier.pid, tiers=hall.tiers()).start()
    print(f"hall at {hall.url}; serving processes RSS at start {mb(memory.sample())}", flush=True)
    try:
        ok = asyncio.run(classroom(hall.url, args.sessions, memory, int(args.max_rss_gb * 1024 * MB), args.timeout,
                                   hall=hall, kill_replica=args.kill_replica))
        for n, app in enumerate(hall.apps, 1):
            if not app.healthy():
                ok = False
                print(f"FAIL: Streamlit replica {n} no longer answers its health check")
            if "Traceback" in app.log_path.read_text(errors="replace"):
                ok = False
                print(f"FAIL: Streamlit replica {n} logged a traceback (see {app.log_path}):\n{app.log_tail()}")
    finally:
        memory.stop()
        hall.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    print("\nPASS" if ok else "\nFAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
