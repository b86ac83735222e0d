"""The memory of a process and everything it started, read from /proc (Linux): what the memory targets count.

The bench's cold run and the browser and load tests (tests/e2e/app_server.py) measure a whole process tree, since a
server or a command may start children (Streamlit's file watcher, a converter), and a peak in a child counts too.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import threading
import time
from dataclasses import dataclass

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # gone since the scan
            continue
        # the command name (field 2) may hold spaces or parentheses: the fields after its last ')' are safe
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def tree_pids(root: int) -> list[int]:
    children, pids, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, []))
    return pids


def rss_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss_bytes(root: int) -> int:
    return sum(rss_of(pid) for pid in tree_pids(root))


def command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_bytes: int  # of the whole tree, sampled every `interval` seconds
    returncode: int
    stdout: str
    stderr: str


def run_measured(command: list[str], *, env: dict[str, str] | None = None, cwd=None, timeout: float = 600,
                 interval: float = 0.05) -> Measured:
    """Run `command` to its end, sampling the resident memory of its process tree as it goes."""
    peak = 0
    began = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_bytes(process.pid))
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        done.set()
        sampler.join()
    return Measured(time.perf_counter() - began, peak, process.returncode, stdout, stderr)


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
LARGE_BLOCK_BYTES = 1024 * 1024


def _glibc():
    """The C library's malloc controls; OSError where there is no glibc to load."""
    return ctypes.CDLL("libc.so.6")


def large_blocks_straight_back(threshold: int = LARGE_BLOCK_BYTES) -> bool:
    """Have glibc give every block of `threshold` bytes or more its own mapping, returned to the system when freed
    (`mallopt(M_MMAP_THRESHOLD)`, which also stops glibc moving that threshold). False where there is no glibc.

    By default the threshold adapts: once a large block (an upload, a decoded photo) is freed it rises to 32 MB, so
    the next uploads of 19 MB are carved from the heap and, freed, stay in the process until something asks for a
    `malloc_trim` (ten of them: 190 MB, tests/test_processes.py). A server of many visitors' files wants its memory
    to follow what it holds, not the moments it trims."""
    try:
        return bool(_glibc().mallopt(M_MMAP_THRESHOLD, int(threshold)))
    except (OSError, AttributeError):
        return False


def give_memory_back() -> bool:
    """Ask glibc to return the free pages of every malloc arena to the system (`malloc_trim(0)`).

    Freed memory otherwise stays in the process: large blocks come from mmap only below glibc's adaptive threshold,
    which rises to 32 MB once such a block is freed, so a session's 19 MB uploads, once dropped, would leave the
    server's resident size where it was. False where the C library has no malloc_trim (not glibc)."""
    try:
        _glibc().malloc_trim(0)
        return True
    except (OSError, AttributeError):
        return False
