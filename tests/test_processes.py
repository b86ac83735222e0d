"""resnet.processes: the memory of a whole process tree, as the cold bench and the load tests read it."""

import sys

from resnet.processes import run_measured
from tests.fresh_python import run_python


ALLOCATE = "import time; block = bytearray({mb} << 20); block[::4096] = b'x' * len(block[::4096]); time.sleep(0.5)"


def test_a_commands_peak_memory_is_sampled_while_it_runs():
    small = run_measured([sys.executable, "-c", ALLOCATE.format(mb=1)])
    large = run_measured([sys.executable, "-c", ALLOCATE.format(mb=300)])
    assert small.returncode == large.returncode == 0
    assert large.peak_rss_bytes - small.peak_rss_bytes > 250 << 20
    assert large.seconds >= 0.5


def test_children_count_towards_the_tree():
    parent = ("import subprocess, sys; subprocess.run([sys.executable, '-c', " + repr(ALLOCATE.format(mb=300)) + "])")
    tree = run_measured([sys.executable, "-c", parent])
    assert tree.returncode == 0 and tree.peak_rss_bytes > 300 << 20


def test_output_and_exit_status_come_back():
    done = run_measured([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"])
    assert (done.returncode, done.stdout.strip(), done.stderr.strip()) == (3, "out", "err")


# Frees ten 19 MB uploads (after one 30 MB block was freed, which raises glibc's adaptive threshold past them) and
# prints how much of their memory the process still holds, with no malloc_trim asked for.
FREED_UPLOADS = """
import sys
from resnet.processes import large_blocks_straight_back, rss_of
import os
if sys.argv[1] == "straight-back":
    assert large_blocks_straight_back()
first = bytearray(30 << 20); first[::4096] = b"x" * len(first[::4096]); del first
before = rss_of(os.getpid())
uploads, pins = [], []
for n in range(10):
    block = bytearray(19 << 20); block[::4096] = b"x" * len(block[::4096])
    uploads.append(block); pins.append(bytearray(64 << 10))  # what a server allocates between two uploads
del uploads, block
print((rss_of(os.getpid()) - before) >> 20)
"""


def test_with_large_blocks_straight_back_freed_uploads_leave_the_process_at_once():
    held = {}
    for mode in ("default", "straight-back"):
        held[mode] = int(run_python(FREED_UPLOADS, mode, timeout=60))
    assert held["straight-back"] <= 5, held  # of 190 MB let go
    assert held["default"] >= 100, held  # glibc's default kept them: the reason for the call
