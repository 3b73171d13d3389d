"""Processes an engine leaves running after a case: found, ended, and reported as a finding.

The process running cases becomes a *child subreaper* (Linux ``prctl``), so a process an
engine started in the background is re-parented to it even when its own parent (a forked
operation, a command engine) has exited, or when it double-forked to become a daemon. After
each case, any live child that was not there before the case is such a leftover: an
application that does this on a user's machine leaks a process (and often a lock on the
database) at every start.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
_ROUNDS = 20  # a leftover's own children are re-parented to us when it dies: end those too


@dataclass(frozen=True)
class Leftover:
    pid: int
    command: str

    def describe(self) -> str:
        return f"pid {self.pid} ({self.command})"


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux only); False where that is not possible."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return " ".join(part.decode("utf-8", "replace") for part in raw.split(b"\0") if part)[:200] or "?"


def live_children() -> set[int]:
    """This process's children that are running (zombies, which run nothing, are left out)."""
    me = os.getpid()
    found: set[int] = set()
    for pid in _children_of(me):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[1] == str(me) and fields[0] != "Z":
            found.add(pid)
    return found


def _children_of(pid: int) -> set[int]:
    """From ``/proc/<pid>/task/*/children`` (cheap), else by reading every process's parent."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        return {int(child) for task in tasks
                for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split()}
    except (OSError, ValueError):
        pass
    try:
        return {int(entry) for entry in os.listdir("/proc") if entry.isdigit()}
    except OSError:
        return set()


def end_leftovers(before: set[int]) -> list[Leftover]:
    """Kill and reap every live child not in ``before`` (and what they leave); what was ended."""
    ended: list[Leftover] = []
    seen: set[int] = set()
    for _ in range(_ROUNDS):
        fresh = live_children() - before - seen
        if not fresh:
            break
        for pid in sorted(fresh):
            ended.append(Leftover(pid, _command(pid)))
            seen.add(pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        for pid in sorted(fresh):
            _reap(pid)
    return ended


def _reap(pid: int) -> None:
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done:
            return
        time.sleep(0.01)
