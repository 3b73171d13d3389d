"""Running one measured command: wall time, CPU time and peak memory of its process tree.

``others_cpu_seconds`` is the CPU the rest of the machine used meanwhile (every core's busy
time from ``/proc/stat`` minus this run's and the bench's own): on a shared machine it tells
a disturbed measurement from a slow one.
``peak_rss_mb`` is the largest resident set any one process of the run reached: the child
itself (``os.wait4``'s ``ru_maxrss``, exact) or any of its descendants (xdist workers,
forked engine children: their ``VmHWM`` polled from ``/proc`` while they live). CPU time is
the child's user + system time with that of the descendants it waited for.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Ran:
    argv: tuple[str, ...]
    returncode: int
    seconds: float
    cpu_seconds: float  # user + system of the whole tree (robust to other load on the machine)
    peak_rss_mb: float
    stdout: str
    stderr: str
    others_cpu_seconds: float | None = None


def run(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None, log_dir: Path | None = None,
        label: str = "run") -> Ran:
    log_dir = log_dir or cwd
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_dir / f"{label}.stdout", log_dir / f"{label}.stderr"
    full_env = {**os.environ, **(env or {})}
    descendants: dict[int, int] = {}  # pid -> the largest VmHWM (kB) seen
    with out_path.open("wb") as out, err_path.open("wb") as err:
        busy0, own0 = busy_seconds(), time.process_time()
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=full_env, stdout=out, stderr=err)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            _sample(proc.pid, descendants)
            time.sleep(POLL_SECONDS)
        seconds = time.perf_counter() - start
        busy, own = busy_seconds(), time.process_time() - own0
    proc.returncode = os.waitstatus_to_exitcode(status)
    scale = 1024 if sys.platform != "darwin" else 1  # kilobytes on Linux, bytes on macOS
    peak = max(usage.ru_maxrss * scale, max(descendants.values(), default=0) * 1024) / (1 << 20)
    cpu = usage.ru_utime + usage.ru_stime
    return Ran(tuple(argv), proc.returncode, seconds, cpu, round(peak, 1),
               out_path.read_text(errors="replace"), err_path.read_text(errors="replace"),
               others_cpu(busy0, busy, cpu + own))


def busy_seconds() -> float | None:
    """Non-idle CPU seconds of every core since boot (Linux ``/proc/stat``), None elsewhere."""
    try:
        with open("/proc/stat") as handle:
            fields = [int(x) for x in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    busy = sum(fields[:8]) - idle  # user nice system idle iowait irq softirq steal (guest is in user)
    return busy / os.sysconf("SC_CLK_TCK")


def others_cpu(before: float | None, after: float | None, ours: float) -> float | None:
    """CPU seconds the rest of the machine used between two ``busy_seconds`` readings."""
    if before is None or after is None:
        return None
    return round(max(0.0, after - before - ours), 3)


def parallel_ceiling(seconds: float = 0.6) -> float | None:
    """The most two CPU-bound processes gain over one on this machine (2.0 = two real cores).

    Shared or hyper-threaded virtual cores deliver less; a ``-n 2`` speed-up is bounded by
    this, whatever the harness does. The same fixed work runs alone, then twice at once.
    """
    if (os.cpu_count() or 1) < 2:
        return None
    block = b"x" * 4096
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < 0.05:
        for _ in range(200):
            hashlib.sha256(block).digest()
        n += 200
    n = int(n * seconds / 0.05)
    code = ("import hashlib,sys,time\nb=b'x'*4096\nt=time.perf_counter()\n"
            "for _ in range(int(sys.argv[1])): hashlib.sha256(b).digest()\nprint(time.perf_counter()-t)")

    def spin(count: int) -> float:
        procs = [subprocess.Popen([sys.executable, "-c", code, str(n)], stdout=subprocess.PIPE, text=True)
                 for _ in range(count)]
        return max(float(p.communicate()[0]) for p in procs)

    try:
        one, two = spin(1), spin(2)
    except (OSError, ValueError):
        return None
    return round(2 * one / two, 3) if two > 0 else None


POLL_SECONDS = 0.1


def _sample(root: int, seen: dict[int, int]) -> None:
    """Record the peak RSS (``VmHWM``) of every live descendant of ``root`` (Linux ``/proc``).

    ``wait4`` reports the child's own peak exactly, but not its children's (xdist workers,
    forked engine children), which exit before it; polling their high-water mark while they
    live catches all but a rise in their last tenth of a second.
    """
    parents: dict[int, int] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        tail = stat[stat.rfind(b")") + 2:].split()
        if len(tail) > 1:
            parents[int(entry)] = int(tail[1])
    family = {root}
    changed = True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in family and pid not in family:
                family.add(pid)
                changed = True
    for pid in family - {root}:
        try:
            with open(f"/proc/{pid}/status", "rb") as handle:
                for line in handle:
                    if line.startswith(b"VmHWM:"):
                        seen[pid] = max(seen.get(pid, 0), int(line.split()[1]))
                        break
        except OSError:
            continue


def load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine() -> dict[str, object]:
    import sqlite3

    facts: dict[str, object] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "load_average_at_start": load(),
    }
    try:
        with open("/proc/meminfo") as handle:
            facts["memory_mb"] = int(handle.readline().split()[1]) // 1024
    except OSError:
        pass
    try:
        with open("/proc/cpuinfo") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), None)
        if model:
            facts["cpu"] = model
    except OSError:
        pass
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "--no-optional-locks", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10)
        if commit.returncode == 0:
            facts["git_commit"] = commit.stdout.strip()
            facts["git_dirty"] = bool(dirty.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return facts
