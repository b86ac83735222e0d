"""A newcomer's first visit: `make run` on empty caches, then one browser opens Predict.

Prints how long after the server answered /_stcore/health the first top-5 could be read off the page, which engine
computed it, when the classifier switched to its converted engine (the page's caption says so on a rerun), and the
peak resident memory of the server's whole process tree from start to the end of the switch.
Targets (issue 10): first top-5 ≤ 10 s after healthy; the tree never above 2 GB.

    .venv/bin/python tests/load/first_visit.py [--switch-timeout 120]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e.app_server import AppServer, tree_rss_bytes  # noqa: E402
from tests.e2e.streamlit_page import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

TARGET_SECONDS, TARGET_MB = 10.0, 2048
CAPTION = re.compile(r"engine (?P<engine>[\w-]+) · (?P<precision>\w+) · (?P<ms>[\d,.]+) ms for")
TOP5 = "() => [...document.querySelectorAll('.js-plotly-plot')].some(p => p.data && p.data[0].type === 'bar')"


def caption(page) -> dict | None:
    for text in page.get_by_test_id("stCaptionContainer").all_inner_texts():
        found = CAPTION.search(text)
        if found:
            return found.groupdict()
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--switch-timeout", type=float, default=120.0)
    parser.add_argument("--timeline", action="store_true", help="print the tree's memory once a second")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="first-visit-") as empty:
        home = Path(empty)
        env = {"RESNET_CACHE_DIR": str(home / "resnet-explorer"), "XDG_CACHE_HOME": str(home / "cache"),
               "KERAS_HOME": str(home / "keras"), "RESNET_WEIGHTS_ORIGIN": (home / "no-mirror").as_uri()}
        server = AppServer(home / "server.log", env=env)
        peak, done = 0, threading.Event()

        timeline = []  # (seconds since start, MB) once a second, for --timeline

        def sample():
            nonlocal peak
            began = time.monotonic()
            while not done.is_set():
                if server.process is not None:
                    now = tree_rss_bytes(server.process.pid)
                    peak = max(peak, now)
                    if not timeline or time.monotonic() - began >= timeline[-1][0] + 1:
                        timeline.append((time.monotonic() - began, now / 2**20))
                done.wait(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        with server, sync_playwright() as playwright:
            healthy_at = time.monotonic()
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(server.url + "predict")
            page.wait_for_function(TOP5, timeout=300_000, polling=100)
            first = time.monotonic() - healthy_at
            answered = caption(page)
            print(f"first top-5 {first:.1f} s after the server was healthy (target ≤ {TARGET_SECONDS:.0f} s), "
                  f"engine {answered and answered['engine']}, {answered and answered['precision']}, server "
                  f"{answered and answered['ms']} ms")
            deadline, switched = time.monotonic() + args.switch_timeout, None
            while time.monotonic() < deadline:
                time.sleep(5)  # one visitor coming back now and then, not a reload storm
                page.reload()
                page.wait_for_function(TOP5, timeout=120_000, polling=100)
                now = caption(page)
                if now and now["engine"] == "openvino":
                    switched = time.monotonic() - healthy_at
                    print(f"switched to openvino by {switched:.1f} s after healthy: server {now['ms']} ms")
                    break
            else:
                print("no switch to openvino seen (RESNET_ENGINE set, a GPU, or OpenVINO missing?)")
            time.sleep(3)  # the conversion thread frees the folded twin after the switch
            browser.close()
        done.set()
        sampler.join()
    if args.timeline:
        print("memory of the server's tree, MB: " + " ".join(f"{t:.0f}s:{mb:.0f}" for t, mb in timeline))
    print(f"peak resident memory of the server's process tree: {peak / 2**20:.0f} MB (target ≤ {TARGET_MB} MB)")
    ok = first <= TARGET_SECONDS and peak / 2**20 <= TARGET_MB
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
