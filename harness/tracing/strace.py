"""strace: whether it may trace here, and the one argv every traced run is built with.

ptrace may be forbidden (CI containers), and strace 6.1 silently drops an injected signal
under ``--seccomp-bpf`` (measured here: the process runs to completion), so two short probe
runs decide once per process: a SIGKILL injected without seccomp (the kill kinds need it),
and an errno injected under ``--seccomp-bpf`` (used, when it works, where nothing is killed:
untraced system calls then do not stop the process, so a traced run is about as fast as a
plain one).
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

SYNC_CALLS = ("fsync", "fdatasync")
WRITE_CALLS = ("write", "pwrite64", "writev", "pwritev", "pwritev2")
READ_CALLS = ("pread64",)
MAX_STRING = 1 << 20  # -s when strings are captured: the longest write captured whole


@dataclass(frozen=True)
class StraceTool:
    """Whether (and how) processes can be traced here: found by probe runs, cached."""

    path: str | None
    usable: bool  # ptrace is allowed and strace injects a SIGKILL into a traced call
    seccomp: bool  # --seccomp-bpf works: untraced system calls then do not stop the process
    reason: str = ""  # why it is not usable


def strace_argv(tool: StraceTool, argv: Sequence[str] = (), *, output: Path | str, calls: Sequence[str],
                paths: Sequence[str | os.PathLike[str]] = (), inject: Sequence[str] = (), seccomp: bool = False,
                strings: bool = False, raw: Sequence[str] = (), attach: int | None = None) -> list[str]:
    """The command line running ``argv`` (or attaching to process ``attach``) under strace.

    Follows forks (``-f``), quiet (``-qq``, no signal lines), ``calls`` logged to ``output``;
    ``paths``: only calls on these (``-P``, exact paths); ``inject``: ``-e inject=`` expressions
    (``<syscall>:<action>[:when=<k>]``); ``seccomp``: ``--seccomp-bpf`` (never with an injected
    signal, which it drops); ``strings``: whole strings as ``\\xNN`` escapes and the path
    behind every descriptor (``-s MAX_STRING -xx -y``), as power-loss recording needs;
    ``raw``: calls printed with their arguments undecoded (no data captured).
    """
    if tool.path is None:
        raise RuntimeError(f"strace cannot run here: {tool.reason}")
    command = [tool.path, "-f", "-qq", "-e", "signal=none"]
    if seccomp and attach is None:
        command.append("--seccomp-bpf")
    if strings:
        command += ["-s", str(MAX_STRING), "-xx", "-y"]
    command += ["-o", os.fspath(output), "-e", "trace=" + ",".join(calls)]
    if raw:
        command += ["-e", "raw=" + ",".join(raw)]
    for path in paths:
        command += ["-P", os.fspath(path)]
    for expression in inject:
        command += ["-e", f"inject={expression}"]
    if attach is not None:
        return [*command, "-p", str(attach)]
    return [*command, "--", *argv]


_PROBE_PROGRAM = "import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT); os.fsync(fd)"


def _probe(path: str, seccomp: bool, action: str, expected: int) -> str:
    """'' when strace, so configured, injects ``action`` into a probe's fsync; else why not."""
    with tempfile.TemporaryDirectory(prefix="harness-strace-probe-") as scratch:
        target = os.path.join(os.path.realpath(scratch), "probe")
        dd = shutil.which("dd")  # coreutils: starts in a few ms, where Python takes tens
        program = ([dd, "if=/dev/null", f"of={target}", "conv=fsync", "status=none"] if dd
                   else [sys.executable, "-c", _PROBE_PROGRAM, target])
        argv = strace_argv(StraceTool(path, True, seccomp), program, output=os.devnull, calls=SYNC_CALLS + WRITE_CALLS,
                           paths=[target], inject=[f"fsync:{action}:when=1"], seccomp=seccomp)
        try:
            run = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"strace cannot run: {exc}"
    if run.returncode == expected:
        return ""
    last = (run.stderr.strip().splitlines() or [""])[-1]
    return f"strace {action} probe: exit status {run.returncode}" + (f": {last}" if last else "")


@functools.lru_cache(maxsize=None)
def strace_tool() -> StraceTool:
    """strace if it is installed and may trace here (two probes, once per process)."""
    path = shutil.which("strace")
    if path is None:
        return StraceTool(None, False, False, "strace is not installed")
    problem = _probe(path, False, "signal=KILL", -signal.SIGKILL)
    if problem:
        return StraceTool(path, False, False, problem)
    return StraceTool(path, True, not _probe(path, True, "error=EIO", 1))


def strace_reason() -> str:
    """'' when strace can trace and inject here, else why not."""
    tool = strace_tool()
    return "" if tool.usable else (tool.reason or "strace is not usable")


__all__ = ["MAX_STRING", "READ_CALLS", "SYNC_CALLS", "WRITE_CALLS", "StraceTool", "strace_argv", "strace_reason",
           "strace_tool"]
