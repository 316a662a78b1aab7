"""The benchmarks' process-tree sampler counts the CPU of processes nobody below the command waits for."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

from benchmarks.proctree import run_sampled

# A child that burns about a CPU second; the command waits until it has exited without reaping it (as a fork
# server's workers are not reaped by the command), holds it a while as a zombie, and exits.
BURN = "import time\\nt = time.process_time()\\nwhile time.process_time() - t < 1.0: pass"
SCRIPT = f"""
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "{BURN}"])
os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
time.sleep(1.5)
os._exit(0)
"""


def test_the_cpu_of_a_grandchild_nobody_reaps_is_counted(tmp_path: Path) -> None:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = run_sampled([sys.executable, "-c", SCRIPT], {}, every=0.1, log=tmp_path / "log")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    waited = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    assert result.returncode == 0
    assert waited < 0.9 <= result.cpu  # only the sampled tree saw the grandchild's second
