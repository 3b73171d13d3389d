"""Transient faults: the file is fine, the engine cannot use it right now.

How each is produced black-box, for any engine, as root on Linux:

``busy-locked``
    ``Damage.hold()`` starts a helper *process* that opens the database with
    ``PRAGMA locking_mode=EXCLUSIVE`` and ``BEGIN EXCLUSIVE`` (in WAL mode an ordinary
    exclusive transaction still lets readers in; exclusive locking mode does not) and keeps
    it until the block ends. A process, not a thread: POSIX locks are per process, so this
    works for command engines and in-process engines alike. Readers get SQLITE_BUSY once
    their busy timeout runs out.
``read-only``
    ``chmod`` does nothing against root, and ``mode=ro`` cannot be imposed on an engine's
    own connection. As root ``hold()`` sets the immutable attribute on the database file
    (``FS_IOC_SETFLAGS``, what ``chattr +i`` does; needs CAP_LINUX_IMMUTABLE and a file
    system that has it, e.g. ext4, xfs, btrfs, not tmpfs or overlayfs); opening it for
    writing fails with EPERM, SQLite falls back to read-only, writes fail SQLITE_READONLY,
    and the engine cannot rename it either. Not root: ``chmod 0444``. Neither: Unsupported.
``cannot-open``
    ``hold()`` moves the database (and sidecars) aside and puts an empty directory in its
    place: SQLITE_CANTOPEN. Put back afterwards (refusing to overwrite anything an engine
    left there).
``disk-full`` and ``read-error-transient``
    Faults in system calls: ``Damage.process`` (a ``ProcessFault``) makes every write to
    the database's files fail with ENOSPC (SQLite: SQLITE_FULL), or the Nth ``pread64`` of
    the database fail with EIO once (SQLite: SQLITE_IOERR, or quick_check rows "unable to get
    the page"; a fresh connection reads fine). Via strace: ``ProcessFault.wrap(argv)`` for
    command engines, ``ProcessFault.run(fn)`` for in-process engines (``fn`` runs in a
    forked child that strace attaches to before it starts). Needs strace and ptrace; a
    tiny file system (mount) or ``RLIMIT_FSIZE`` were rejected: mounting needs privileges
    CI rarely has, and a file-size limit fails writes with EFBIG (SQLITE_IOERR, not FULL)
    and also hits the engine's logs.
"""

from __future__ import annotations

import fcntl
import os
import random
import select
import stat
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.corruption.catalogue import (
    NEED_IMMUTABLE, NEED_STRACE, TRANSIENT, DamageSetup, Done, ProcessFault, Unsupported, kind,
)
from harness.tracing import fork
from harness.tracing.strace import READ_CALLS, WRITE_CALLS, StraceTool, strace_argv, strace_reason, strace_tool
FS_IOC_GETFLAGS = 0x80086601
FS_IOC_SETFLAGS = 0x40086602
FS_IMMUTABLE_FL = 0x00000010


# ------------------------------------------------------------------------------------------
# strace
# ------------------------------------------------------------------------------------------


def _strace() -> StraceTool:
    tool = strace_tool()
    if not tool.usable or tool.path is None:
        raise Unsupported(f"strace cannot inject faults here: {tool.reason}")
    return tool


def strace_argv_for(fault: ProcessFault, argv: list[str] | None = None, *, attach: int | None = None) -> list[str]:
    """``argv`` run under strace (or strace attached to ``attach``) with the fault injected."""
    return strace_argv(_strace(), argv or (), output=os.devnull, calls=fault.syscalls, paths=fault.paths,
                       inject=fault.inject, attach=attach)


class ChildFailed(RuntimeError):
    """The child died without a result."""


def _traced(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("TracerPid:"):
                    return int(line.split()[1]) != 0
    except OSError:
        return False
    return False


def run_with_fault(fault: ProcessFault, fn: Callable[[], Any], *, timeout: float = 120.0) -> Any:
    """Call ``fn`` in a forked child with ``fault`` injected into its system calls; return
    its result or raise its exception (for in-process engines).

    The child waits until strace has attached (``TracerPid`` in /proc) before it calls
    ``fn``; strace ends with it.
    """
    tracers: list[subprocess.Popen[bytes]] = []

    def attach(pid: int) -> None:
        tracer = subprocess.Popen(strace_argv_for(fault, attach=pid), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        tracers.append(tracer)
        deadline = time.monotonic() + timeout
        while not _traced(pid):
            if tracer.poll() is not None or time.monotonic() > deadline:
                error = tracer.stderr.read().decode(errors="replace")[-300:] if tracer.poll() is not None and \
                    tracer.stderr else ""
                raise Unsupported(f"strace did not attach: {error}" if error else "strace did not attach")
            time.sleep(0.001)

    try:
        report = fork.run_forked(fn, timeout=timeout, gate=attach)
    finally:
        for tracer in tracers:
            try:
                tracer.wait(timeout=10)
            except subprocess.TimeoutExpired:
                tracer.kill()
                tracer.wait()
            if tracer.stderr:
                tracer.stderr.close()
    if report.status == fork.RETURNED:
        return report.value
    if report.status == fork.RAISED:
        assert report.exception is not None
        raise report.exception
    raise ChildFailed(f"the child died without a result ({report.describe()})")


def _db_family(setup: DamageSetup) -> tuple[Path, ...]:
    db = Path(os.path.realpath(setup.db))
    return (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-journal"))


# ------------------------------------------------------------------------------------------
# The kinds
# ------------------------------------------------------------------------------------------

_LOCKER = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("PRAGMA locking_mode=EXCLUSIVE")
conn.execute("BEGIN EXCLUSIVE")
conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
conn.close()
"""


@contextmanager
def exclusive_lock(db: Path, *, timeout: float = 30.0) -> Iterator[int]:
    """A helper process holding an exclusive lock on ``db`` for the block; yields its pid."""
    helper = subprocess.Popen([sys.executable, "-c", _LOCKER, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert helper.stdout is not None
        ready, _, _ = select.select([helper.stdout], [], [], timeout)
        line = helper.stdout.readline() if ready else ""
        if line.strip() != "locked":
            helper.kill()
            err = helper.stderr.read() if helper.stderr else ""
            raise Unsupported(f"the lock helper could not lock {db.name}: {line.strip() or err.strip()[-300:]}")
        yield helper.pid
    finally:
        if helper.poll() is None:
            try:
                assert helper.stdin is not None
                helper.stdin.close()
                helper.wait(timeout=timeout)
            except (subprocess.TimeoutExpired, BrokenPipeError):
                helper.kill()
                helper.wait()
        for stream in (helper.stdout, helper.stderr):
            if stream:
                stream.close()


@kind("busy-locked", symptom=TRANSIENT, reports=("SQLITE_BUSY",), seeded=False,
      description="another process holds an exclusive lock for as long as the engine runs: SQLITE_BUSY "
                  "once the busy timeout runs out (probe: quick_check with timeout 0)")
def busy_locked(setup: DamageSetup, rng: random.Random) -> Done:
    if not setup.db.is_file():
        raise Unsupported(f"{setup.db} is not a file")

    @contextmanager
    def holder() -> Iterator[None]:
        with exclusive_lock(setup.db):
            yield

    return Done(f"a helper process holds {setup.db.name} with locking_mode=EXCLUSIVE and BEGIN EXCLUSIVE "
                f"while the block runs", holder=holder, expected={"transient_codes": frozenset({"db_busy"})})


def _get_flags(path: Path) -> int:
    fd = os.open(path, os.O_RDONLY)
    try:
        buf = bytearray(8)
        fcntl.ioctl(fd, FS_IOC_GETFLAGS, buf)
        return struct.unpack_from("<i", buf)[0]
    finally:
        os.close(fd)


def _set_flags(path: Path, flags: int) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("<i", flags) + bytes(4))
    finally:
        os.close(fd)


def immutable_reason(directory: Path) -> str:
    """'' when files in ``directory`` can be made read-only for this user, else why not.
    As root this sets and clears the immutable attribute on a scratch file there (never on
    a file that matters: an interrupted probe must not leave one immutable)."""
    if os.geteuid() != 0:
        return ""
    directory = Path(directory)
    if not directory.is_dir():
        return f"{directory} is not a directory"
    fd, name = tempfile.mkstemp(prefix=".harness-immutable-probe-", dir=directory)
    os.close(fd)
    probe = Path(name)
    try:
        flags = _get_flags(probe)
        _set_flags(probe, flags | FS_IMMUTABLE_FL)
        _set_flags(probe, flags)
    except OSError as exc:
        return f"cannot set the immutable attribute in {directory} (root ignores chmod): {exc}"
    finally:
        try:
            probe.unlink()
        except OSError:  # pragma: no cover - still immutable: say so rather than hide it
            pass
    return ""


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` cannot be written, renamed or deleted inside the block."""
    if os.geteuid() == 0:
        flags = _get_flags(path)
        _set_flags(path, flags | FS_IMMUTABLE_FL)
        try:
            yield
        finally:
            _set_flags(path, flags)
    else:
        mode = stat.S_IMODE(path.stat().st_mode)
        path.chmod(mode & ~0o222)
        try:
            yield
        finally:
            path.chmod(mode)


@kind("read-only", symptom=TRANSIENT, reports=("SQLITE_READONLY",), needs=(NEED_IMMUTABLE,), seeded=False,
      description="the database file made read-only (immutable attribute as root, chmod otherwise): reads "
                  "work, writes fail SQLITE_READONLY (probe: a write)")
def read_only_kind(setup: DamageSetup, rng: random.Random) -> Done:
    if not setup.db.is_file():
        raise Unsupported(f"{setup.db} is not a file")
    reason = immutable_reason(setup.db.parent)
    if reason:
        raise Unsupported(reason)
    how = "immutable attribute (chattr +i)" if os.geteuid() == 0 else "chmod a-w"
    return Done(f"{setup.db.name} made read-only with the {how} while the block runs",
                holder=lambda: read_only(setup.db), expected={"transient_codes": frozenset({"db_readonly"})})


@contextmanager
def directory_in_place(db: Path) -> Iterator[None]:
    """The database and its sidecars moved aside, an empty directory at its path."""
    moved: list[tuple[Path, Path]] = []
    for suffix in ("", "-wal", "-shm", "-journal"):
        source = db.with_name(db.name + suffix)
        if source.exists():
            aside = source.with_name(source.name + ".harness-aside")
            if aside.exists():
                raise Unsupported(f"{aside} already exists")
            os.rename(source, aside)
            moved.append((source, aside))
    os.mkdir(db)
    try:
        yield
    finally:
        problems = []
        try:
            os.rmdir(db)
        except OSError as exc:
            problems.append(f"{db} is no longer the empty directory put there: {exc}")
        for source, aside in moved:
            if source.exists() or not aside.exists():
                problems.append(f"cannot move {aside.name} back to {source.name}")
                continue
            os.rename(aside, source)
        if problems:
            raise RuntimeError("; ".join(problems))


@kind("cannot-open", symptom=TRANSIENT, reports=("SQLITE_CANTOPEN",), seeded=False,
      description="the database path is a directory while the engine runs (the file moved aside): "
                  "SQLITE_CANTOPEN")
def cannot_open(setup: DamageSetup, rng: random.Random) -> Done:
    if not setup.db.is_file():
        raise Unsupported(f"{setup.db} is not a file")
    return Done(f"{setup.db.name} (and sidecars) renamed to *.harness-aside and an empty directory put in its "
                f"place while the block runs", holder=lambda: directory_in_place(setup.db),
                expected={"transient_codes": frozenset({"db_cantopen"})})


@kind("disk-full", symptom=TRANSIENT, reports=("SQLITE_FULL",), needs=(NEED_STRACE,), seeded=False,
      description="every write to the database, -wal or -journal fails with ENOSPC (strace): SQLITE_FULL, "
                  "the database intact (probe: a write)")
def disk_full(setup: DamageSetup, rng: random.Random) -> Done:
    reason = strace_reason()
    if reason:
        raise Unsupported(reason)
    paths = _db_family(setup)
    fault = ProcessFault("writes to the database's files fail with ENOSPC", WRITE_CALLS,
                         (",".join(WRITE_CALLS) + ":error=ENOSPC",), paths)
    return Done("strace -e inject=" + fault.inject[0] + " on " + ", ".join(p.name for p in paths),
                process=fault, expected={"transient_codes": frozenset({"db_full"})})


@kind("read-error-transient", symptom=TRANSIENT, reports=("SQLITE_IOERR", "rows"), needs=(NEED_STRACE,),
      description="one read of the database fails with EIO (strace, the Nth pread64): the first check "
                  "reports an I/O error or unreadable pages, a fresh connection reads fine")
def read_error_transient(setup: DamageSetup, rng: random.Random) -> Done:
    reason = strace_reason()
    if reason:
        raise Unsupported(reason)
    n = rng.randrange(2, 9)
    paths = (Path(os.path.realpath(setup.db)),)
    fault = ProcessFault(f"the {n}th pread64 of the database fails with EIO", READ_CALLS,
                         (f"pread64:error=EIO:when={n}",), paths)
    return Done(f"strace -e inject={fault.inject[0]} on {setup.db.name}", process=fault,
                expected={"transient_codes": frozenset({"db_io_error"})})
