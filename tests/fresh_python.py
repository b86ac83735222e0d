"""Code run in a fresh Python process: for what one test's process cannot show (which modules a room imports, what
memory a process gives back, gc.freeze's effects), without the modules and objects the suite has already loaded."""

from __future__ import annotations

import os
import subprocess
import sys

from resnet.paths import ROOT


def run_python(code: str, *args: str, timeout: float = 120, env: dict[str, str] | None = None) -> str:
    """Run `code` (`python -c code args…`) from the repository's root; its last line on stdout. A failure shows
    the end of its stderr."""
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=None if env is None else {**os.environ, **env})
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def loaded(modules) -> str:
    """A line of code that prints which of `modules` the process has imported, comma-separated, or "none"."""
    return f"import sys; print(','.join(sorted(m for m in {tuple(modules)!r} if m in sys.modules)) or 'none')\n"
