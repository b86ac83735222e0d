"""resnet.processes: the memory of a whole process tree, as the cold bench and the load tests read it."""

import sys

from resnet.processes import run_measured

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
