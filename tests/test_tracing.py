"""harness.tracing: the one fork-and-report runner, the one strace argv, the one trace reader."""

from __future__ import annotations

import faulthandler
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.tracing import fork
from harness.tracing.strace import StraceTool, strace_argv, strace_tool
from harness.tracing.trace import Syscall, in_start_order, read_trace


# -- the fork runner ------------------------------------------------------------------------


class Coded(Exception):
    code = "db_busy"


class Unrebuildable(Exception):
    """Pickles, but cannot be rebuilt: its __init__ needs two arguments."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what}: {why}")
        self.code = "migration_failed"


def test_a_returned_value_comes_back() -> None:
    report = fork.run_forked(lambda: {"pid": os.getpid(), "n": 3})
    assert report.status == fork.RETURNED and report.value["n"] == 3  # type: ignore[index]
    assert report.value["pid"] != os.getpid()  # type: ignore[index]


def test_an_exception_comes_back_whole_or_as_a_stand_in() -> None:
    def raise_coded() -> None:
        raise Coded("locked")

    report = fork.run_forked(raise_coded)
    assert report.status == fork.RAISED and isinstance(report.exception, Coded)
    assert str(report.exception) == "locked"

    def raise_odd() -> None:
        raise Unrebuildable("step 3", "no space")

    odd = fork.run_forked(raise_odd)
    assert odd.status == fork.RAISED and isinstance(odd.exception, fork.ChildException)
    assert odd.exception.type_name == "Unrebuildable" and odd.exception.code == "migration_failed"
    assert "step 3: no space" in odd.exception.message and "raise_odd" in odd.exception.trace

    exited = fork.run_forked(lambda: sys.exit(4))
    assert exited.status == fork.RAISED and isinstance(exited.exception, SystemExit)


def test_a_result_that_cannot_be_sent_is_reported_as_an_exception() -> None:
    report = fork.run_forked(lambda: (lambda: None))  # a lambda does not pickle
    assert report.status == fork.RAISED and isinstance(report.exception, fork.ChildException)
    assert report.exception.type_name == "UnsendableResult" and "function returned" in report.exception.message


def test_a_crash_an_exit_and_a_hang_are_told_apart() -> None:
    def segfault() -> None:
        faulthandler.disable()  # pytest's handler would print the child's stack
        os.kill(os.getpid(), signal.SIGSEGV)

    crashed = fork.run_forked(segfault)
    assert crashed.status == fork.CRASHED and crashed.signal == signal.SIGSEGV
    assert "SIGSEGV" in crashed.describe()
    exited = fork.run_forked(lambda: os._exit(3))
    assert exited.status == fork.EXITED and exited.exit_code == 3
    started = time.monotonic()
    hung = fork.run_forked(lambda: time.sleep(60), timeout=0.5)
    assert hung.status == fork.TIMED_OUT and time.monotonic() - started < 30
    assert "0.5 s timeout" in hung.describe()


def test_a_hang_kills_what_the_child_started(tmp_path: Path) -> None:
    marker = tmp_path / "pid"

    def spawn_and_hang() -> None:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        marker.write_text(str(child.pid))
        time.sleep(60)

    report = fork.run_forked(spawn_and_hang, timeout=2)
    assert report.status == fork.TIMED_OUT
    grandchild = int(marker.read_text())
    for _ in range(200):  # killed with the group (then reaped by init)
        try:
            with open(f"/proc/{grandchild}/stat") as stat:
                if stat.read().split(") ")[1].startswith("Z"):
                    break
        except FileNotFoundError:
            break
        time.sleep(0.05)
    else:
        os.kill(grandchild, signal.SIGKILL)
        pytest.fail("the grandchild outlived the timeout")


def test_a_child_that_exits_while_a_grandchild_holds_the_pipe_is_not_waited_for() -> None:
    def leave_a_daemon() -> int:
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"], start_new_session=True)
        return 7

    started = time.monotonic()
    report = fork.run_forked(leave_a_daemon, timeout=30)
    assert report.status == fork.RETURNED and report.value == 7
    assert time.monotonic() - started < 4


def test_notes_survive_a_sudden_exit() -> None:
    def work() -> None:
        fork.note({"steps": 5})
        fork.note({"steps": 9})
        os._exit(75)

    report = fork.run_forked(work)
    assert report.status == fork.EXITED and report.exit_code == 75
    assert report.notes == ({"steps": 5}, {"steps": 9})
    assert not fork.in_child() and fork.run_forked(fork.in_child).value is True


def test_the_gate_runs_before_the_function_and_a_failing_gate_kills_the_child(tmp_path: Path) -> None:
    flag = tmp_path / "gate"
    report = fork.run_forked(flag.exists, gate=lambda pid: flag.write_text(str(pid)))
    assert report.value is True

    def refuse(pid: int) -> None:
        raise RuntimeError("no tracer")

    with pytest.raises(RuntimeError, match="no tracer"):
        fork.run_forked(lambda: time.sleep(60), gate=refuse)


# -- strace argv and trace reading ------------------------------------------------------------


def test_one_argv_for_every_traced_run() -> None:
    tool = StraceTool("/usr/bin/strace", True, True)
    counted = strace_argv(tool, ["app", "migrate"], output="T", calls=("fsync", "write"), paths=["/d/app.db", "/d"],
                          inject=["fsync:signal=KILL:when=2"], seccomp=True)
    assert counted == ["/usr/bin/strace", "-f", "-qq", "-e", "signal=none", "--seccomp-bpf", "-o", "T",
                       "-e", "trace=fsync,write", "-P", "/d/app.db", "-P", "/d", "-e", "inject=fsync:signal=KILL:when=2",
                       "--", "app", "migrate"]
    attached = strace_argv(tool, output="T", calls=("pread64",), attach=42, seccomp=True)
    assert attached[-2:] == ["-p", "42"] and "--seccomp-bpf" not in attached and "--" not in attached
    recorded = strace_argv(tool, ["x"], output="T", calls=("openat",), strings=True)
    assert recorded[5:10] == ["-s", str(1 << 20), "-xx", "-y", "-o"]
    with pytest.raises(RuntimeError, match="not installed"):
        strace_argv(StraceTool(None, False, False, "not installed"), ["x"], output="T", calls=("write",))


def test_trace_lines_are_joined_and_ordered() -> None:
    lines = [
        '10 pwrite64(4, "x", 1, 0) = 1',
        "11 fdatasync(6 <unfinished ...>",
        '10 write(3, "y", 1) = -1 ENOSPC (No space left on device) (INJECTED)',
        "11 <... fdatasync resumed>) = 0",
        "[pid 12] openat(AT_FDCWD, \"/d/a\", O_RDONLY) = 5</d/a>",
        "10 mmap(NULL, 8192, PROT_READ, MAP_SHARED, 3, 0) = 0x7f0000000000",
        "--- SIGCHLD {si_signo=SIGCHLD} ---",
        "12 fsync(5 <unfinished ...>)",
        "10 +++ exited with 0 +++",
    ]
    calls = list(read_trace(lines))
    assert [c.name for c in calls] == ["pwrite64", "write", "fdatasync", "openat", "mmap", "fsync"]  # completion
    assert [c.name for c in in_start_order(calls)] == ["pwrite64", "fdatasync", "write", "openat", "mmap", "fsync"]
    write, fdatasync, opened, mapped, killed = calls[1], calls[2], calls[3], calls[4], calls[5]
    assert write.injected and write.failed and write.ret == -1 and not fdatasync.injected
    assert fdatasync == Syscall(11, "fdatasync", "6", 0, None, "", 1)
    assert opened.pid == 12 and opened.ret == 5 and opened.ret_path == "/d/a"
    assert mapped.ret == 0x7F0000000000
    assert killed.ret is None and killed.failed  # killed inside it: it never returned


@pytest.mark.skipif(not strace_tool().usable, reason=f"needs strace and ptrace: {strace_tool().reason}")
def test_a_real_trace_with_an_injected_kill(tmp_path: Path) -> None:
    target = tmp_path / "f"
    program = ("import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT); os.write(fd, b'a'); "
               "os.fsync(fd); os.write(fd, b'b'); os.fsync(fd)")
    trace = tmp_path / "trace"
    argv = strace_argv(strace_tool(), [sys.executable, "-c", program, str(target)], output=trace,
                       calls=("write", "fsync"), paths=[str(target)], inject=["fsync:signal=KILL:when=2"])
    run = subprocess.run(argv, capture_output=True, timeout=60)
    assert run.returncode == -signal.SIGKILL
    calls = in_start_order(read_trace(trace.read_text().splitlines()))
    assert [(c.name, c.ret is None) for c in calls] == [("write", False), ("fsync", False), ("write", False),
                                                        ("fsync", True)]
