"""Resident memory and CPU time of a process and all its descendants, sampled from /proc while it runs (Linux)."""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def sample_tree(root: int, cpu: dict[tuple[int, int], float]) -> int:
    """Bytes resident in ``root`` and every process below it (0 once it has gone); each process's CPU seconds so far
    (user + system) are recorded in ``cpu``, by process id and start time (ids are reused)."""
    tree = _children()
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            key = (pid, int(fields[19]))
            cpu[key] = max(cpu.get(key, 0.0), (int(fields[11]) + int(fields[12])) / TICK)
        except (OSError, IndexError, ValueError):
            continue
        todo.extend(tree.get(pid, []))
    return total


@dataclass
class Sampled:
    """A finished command: wall-clock seconds, exit code and (time, bytes) samples of its process tree."""

    seconds: float
    returncode: int
    samples: list[tuple[float, int]] = field(default_factory=list)
    stopped_over: int | None = None
    """The memory ceiling (bytes) the run was stopped at, if it was."""
    cpu: float = 0.0
    """CPU seconds (user + system) of the command's processes: the more of the children it waited for and every
    process seen below it (sampled, so up to ``every`` seconds of each process's last moments may be missed; this
    counts worker processes that no process below the command waits for, such as a fork server's)."""

    def peak(self, since: float = 0.0, until: float = float("inf")) -> int:
        return max((rss for when, rss in self.samples if since <= when <= until), default=0)


def run_sampled(
    argv: list[str], env: dict[str, str], *, every: float = 0.25, ceiling: int | None = None, log: Path
) -> Sampled:
    """Run ``argv`` (output to ``log``), sampling its tree's RSS; stop the tree if it goes over ``ceiling``."""
    samples: list[tuple[float, int]] = []
    stopped: list[int] = []
    seen: dict[tuple[int, int], float] = {}
    with log.open("ab") as out:
        began, cpu_before = time.time(), _children_cpu()
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                rss = sample_tree(process.pid, seen)
                samples.append((time.time(), rss))
                if ceiling is not None and rss > ceiling and not stopped:
                    stopped.append(rss)
                    os.killpg(process.pid, 9)
                done.wait(every)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = process.wait()
        done.set()
        sampler.join()
    cpu = max(_children_cpu() - cpu_before, sum(seen.values()))
    return Sampled(time.time() - began, code, samples, ceiling if stopped else None, cpu)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
