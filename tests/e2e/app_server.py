"""The app as users start it (`make run PORT=…`), on a free localhost port, and the memory of its process tree.

Shared by the browser tests (tests/e2e/) and the classroom load script (tests/load/classroom.py).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from resnet.processes import command_line, rss_of, tree_pids, tree_rss_bytes  # noqa: F401 -- the load script's

REPO = Path(__file__).resolve().parents[2]

# Telemetry off: the browser would otherwise try to fetch Streamlit's metrics config from the internet and log a
# console error on an offline machine. Headless: never wait for the first-run e-mail prompt.
SERVER_ENV = {"STREAMLIT_SERVER_HEADLESS": "true", "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
              "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}


def proxy_config(listen: int, backends: list[int], scratch: Path) -> str:
    """deploy/nginx.conf on 127.0.0.1:`listen`, in front of `backends` (localhost ports), writing into `scratch`;
    nothing else changed (the reverse-proxy test and the load script's --serve both run it)."""
    text = (REPO / "deploy" / "nginx.conf").read_text()
    text = re.sub(r"(\n\s*)server 127\.0\.0\.1:\d+;(\s*server 127\.0\.0\.1:\d+;)*",
                  lambda m: "".join(f"{m[1]}server 127.0.0.1:{port};" for port in backends), text)
    text = text.replace("listen 8080;", f"listen 127.0.0.1:{listen};").replace("/tmp/resnet-explorer-", f"{scratch}/")
    assert all(f"127.0.0.1:{port}" in text for port in backends)
    return text


def upload_body(data: bytes, name: str = "photo.jpg", mime: str = "image/jpeg") -> tuple[bytes, str]:
    """One file as Streamlit's upload route takes it from a page: (multipart body, its Content-Type)."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: {mime}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """`make run PORT=<port>` in its own process group; `stop()` ends the whole group (make, streamlit, children)."""

    def __init__(self, log_path: Path, *, port: int | None = None, env: dict[str, str] | None = None):
        self.port = port or free_port()
        self.url = f"http://localhost:{self.port}/"
        self.log_path = log_path
        self.env = {**os.environ, **SERVER_ENV, **(env or {})}
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0

    @property
    def command(self) -> list[str]:
        return ["make", "--no-print-directory", "run", f"PORT={self.port}"]

    def start(self, timeout: float = 240.0) -> AppServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115 - the server writes to it for its whole life
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(self.command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"`{' '.join(self.command)}` exited with {self.process.returncode} before it "
                                   f"served:\n{self.log_tail()}")
            if self.healthy():
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the app did not answer {self.url}_stcore/health within {timeout:.0f} s:\n"
                           f"{self.log_tail()}")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}_stcore/health", timeout=2) as answer:
                return answer.status == 200 and answer.read().strip() == b"ok"
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(grace)
                return
            except subprocess.TimeoutExpired:
                continue

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def rss_bytes(self) -> int:
        """Resident memory of the server's whole process tree (make, streamlit and any child it started)."""
        return tree_rss_bytes(self.process.pid) if self.process else 0

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
