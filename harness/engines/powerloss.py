"""Power loss: the files a power cut at each sync point would leave, rebuilt from a trace.

A kill (``harness.engines.faults``) tests the application crashing: the kernel's page cache
survives, so every write the process made reaches the disk. A power cut also loses what was
written but not yet synced, and may tear the write in flight. This module builds the file
images such a cut leaves, at every sync point in turn, for a migration or a recovery.

Why the system-call layer and not a VFS
    SQLite's own crash tests (and APSW's Python VFS classes) put a fault-injecting file layer
    between SQLite and the disk. That only works for connections opened through the library
    the VFS is registered in. Engines under test bring their own SQLite: stdlib ``sqlite3``
    in a python engine, a bundled ``libsqlite3`` in a Rust, Go or Node executable. A VFS in
    APSW's library (itself a newer SQLite) cannot see their I/O; the system calls they all
    end in can. So the operation runs once, for real, in a child process under ``strace``,
    and the trace is replayed onto copies of the starting files.

Recording (``record``)
    ::

        strace -f -qq -e signal=none [--seccomp-bpf] -s 1048576 -xx -y -o TRACE \\
            -e trace=openat,?open,?creat,?openat2,write,pwrite64,writev,pwritev,?pwritev2,
                     ftruncate,?truncate,?fallocate,fsync,fdatasync,?sync,?syncfs,unlink,unlinkat,
                     ?rename,renameat,?renameat2,?mkdir,mkdirat,?rmdir,close,lseek,?chdir,?fchdir,
                     ?mmap,?sendfile,?copy_file_range \\
            -- ARGV...

    ``-y`` prints the path behind every file descriptor, ``-xx`` prints every string (data
    and paths) as ``\\xNN`` escapes, so the parser never meets an ambiguous quote, and ``-s``
    is raised to 1 MiB so whole pages are captured (a write longer than that is refused
    rather than replayed short: ``PowerLossError``). A ``?`` lets strace skip a call the
    architecture lacks. ``--seccomp-bpf`` is used when ``faults.strace_tool`` found it
    working (nothing is injected here, so its one defect, dropped signals, does not matter).

    No ``-P``: ``-P`` matches exact paths only, and a recovery writes below the data
    directory (``backups/``, ``corrupted/<stamp>/``, a restore's temporary file). Every call
    is traced and the parser keeps those whose resolved path lies in the database's directory
    (``db.parent``, the data directory) or below it. The rest (the interpreter's imports,
    stdout) costs little. Measured on the reference engine migrating a copy of the 316 KiB
    ``v1-pre-history`` fixture to head (a snapshot, a baseline and 6 migrations: 7
    transactions): a 6.3 MB trace, 469 operations with 1.27 MB of writes in the data
    directory, 8 sync points; the traced child takes 0.9-1.0 s (0.37 s untraced, most of it
    interpreter start-up); rebuilding all 27 images (3 modes x 9) 0.08 s, reopening and
    judging them ~0.6 s. A fresh install: 2.1 MB, 194 operations, 8 sync points, 0.5-0.6 s.

    ``-shm`` files are left out (SQLite maps them and rebuilds them on the first open after
    a crash; their bytes are no durable state). A shared writable ``mmap`` of another file
    in the data directory, and ``sendfile``/``copy_file_range`` into one, move data a trace
    does not show: they are listed in ``WriteLog.unmodelled`` and ``images`` refuses the log.

The log (``WriteLog.ops``), in the order the calls completed
    ``Create(path)`` (a successful open with ``O_CREAT``: creates the file if absent),
    ``Write(path, offset, data)`` (``offset`` None: ``O_APPEND``), ``Truncate(path, size)``
    (also ``O_TRUNC``), ``Allocate(path, end)`` (``fallocate`` mode 0), ``Sync(path)``
    (``fsync``/``fdatasync`` of a file or a directory), ``SyncAll()`` (``sync``, ``syncfs``),
    ``Unlink(path)``, ``Mkdir(path)``, ``Rmdir(path)``, ``Rename(source, target)``. Paths
    are relative to the data directory (``""`` is the directory itself). ``write`` without
    an offset uses the position the parser tracks per descriptor (``openat``, ``lseek``'s
    result, earlier writes). An operation on a descriptor whose file was unlinked
    (``-y`` says ``(deleted)``) has ``deleted=True`` and applies to the file last unlinked
    under that name.

Replay: the durability rule (``images``)
    The sync points are the ``Sync``/``SyncAll`` operations, numbered 1..S in log order.
    Image k (1..S) is the disk after a power cut just before sync k takes effect; image
    S+1 ("end") after the process exited with nothing synced after its last sync. At a cut:

    - File data: every write and truncate of a file made before that file's last completed
      sync is durable (``fsync`` and ``fdatasync`` alike: both flush data and size); the
      later ones are unsynced.
    - Names (create, unlink, rename, mkdir, rmdir) are durable only once a directory they
      change has been synced after them: a ``Sync`` of directory D makes durable every name
      operation up to and including the last one that changed an entry of D, and every
      earlier one too (file systems journal name changes in order, so a later one never
      survives an earlier one). This is POSIX's rule, which SQLite follows (it fsyncs the
      directory after creating a journal or WAL unless built with SQLITE_DISABLE_DIRSYNC),
      and the one the ext4-style "rename over a file that was never synced" bug needs.
      It does not make images trivially old: SQLite's own directory syncs, and the
      reference engine's after each quarantine and restore, keep them moving (measured:
      the drop images of a migration go from the start to head; those of a recovery pass
      through "quarantined" to "restored"). A file whose creation is not durable is absent;
      its synced data is unreachable. The starting files are durable.

    The modes, for what is not durable at the cut:

    ``drop``  everything unsynced is lost: only durable names, with durable data.
    ``tear``  the page cache was mostly written back: every name operation and every
              unsynced write is applied, except that the last unsynced write of each file
              lands only in part, at 512-byte sector granularity (sectors counted from the
              file's start): its first half of sectors (``seed`` 0), or a subset chosen by
              ``random.Random`` from ``seed``, the point and the path (a proper subset: never
              all of them). Sectors beyond the end of the file that are not kept do not
              extend it.
    ``keep``  nothing is lost: the state a plain crash (kill) leaves at that point.

    What this does not model: unsynced writes reaching the disk in an arbitrary subset or
    order (``drop`` and ``tear`` take the two ends), a tear inside a sector, lying disks.

Engines (``power_loss_runs``)
    Python engines run in a child process, ``python -m harness.engines.child`` (the
    engine's import target, and ``options`` for a class or factory), so the library traced
    is the stdlib ``sqlite3`` the engine uses in the harness too. Command engines run their
    own ``migrate``/``open`` command, through the command adapter (its timeout, process
    group and error pattern apply). The run happens on the caller's ``db`` (like
    ``count_points``): afterwards it holds the operation's result. Each run records the
    SQLite library of the engine process (the child reports ``sqlite_version`` and
    ``PRAGMA compile_options``; for an executable the ``libsqlite3`` it opened, if any) and
    the harness's own (the one reopening the images), for every drill result.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence, Union

from harness.engines.child import MARKER, sqlite_build
from harness.engines.command import CommandEngine
from harness.tracing.strace import MAX_STRING, StraceTool, strace_tool
from harness.tracing.strace import strace_argv as tracing_argv
from harness.tracing.trace import Syscall, read_trace
from harness.engines.protocol import OP_MIGRATE, OP_OPEN, Outcome
from harness.engines.python import PythonEngine

MODES = ("drop", "tear", "keep")
MODE_DROP, MODE_TEAR, MODE_KEEP = MODES
SECTOR = 512
DEFAULT_TIMEOUT = 120.0
TRACED_CALLS = (
    "openat", "?open", "?creat", "?openat2", "write", "pwrite64", "writev", "pwritev", "?pwritev2",
    "ftruncate", "?truncate", "?fallocate", "fsync", "fdatasync", "?sync", "?syncfs", "unlink", "unlinkat",
    "?rename", "renameat", "?renameat2", "?mkdir", "mkdirat", "?rmdir", "close", "lseek", "?chdir", "?fchdir",
    "?mmap", "?sendfile", "?copy_file_range",
)
IGNORED_SUFFIXES = ("-shm",)  # mapped by SQLite, rebuilt after a crash: no durable state


class PowerLossError(RuntimeError):
    """The run cannot be traced, or its trace cannot be replayed faithfully."""


# ==========================================================================================
# The log
# ==========================================================================================


@dataclass(frozen=True)
class Create:
    path: str


@dataclass(frozen=True)
class Write:
    path: str
    offset: int | None  # None: O_APPEND, at the end of the file
    data: bytes
    deleted: bool = False

    def __repr__(self) -> str:
        extra = ", deleted=True" if self.deleted else ""
        return f"Write({self.path!r}, {self.offset}, <{len(self.data)} bytes>{extra})"


@dataclass(frozen=True)
class Truncate:
    path: str
    size: int
    deleted: bool = False


@dataclass(frozen=True)
class Allocate:
    path: str
    end: int
    deleted: bool = False


@dataclass(frozen=True)
class Sync:
    path: str
    deleted: bool = False


@dataclass(frozen=True)
class SyncAll:
    pass


@dataclass(frozen=True)
class Unlink:
    path: str


@dataclass(frozen=True)
class Mkdir:
    path: str


@dataclass(frozen=True)
class Rmdir:
    path: str


@dataclass(frozen=True)
class Rename:
    source: str
    target: str


Op = Union[Create, Write, Truncate, Allocate, Sync, SyncAll, Unlink, Mkdir, Rmdir, Rename]
_DATA_OPS = (Write, Truncate, Allocate)


@dataclass(frozen=True)
class SqliteBuild:
    """One SQLite library: recorded with every drill result."""

    role: str  # "engine" (the process under test) or "harness" (reopens and judges the images)
    version: str | None
    compile_options: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()  # libsqlite3 files the traced process opened

    def as_dict(self) -> dict[str, object]:
        return {"role": self.role, "sqlite_version": self.version, "compile_options": list(self.compile_options),
                "libraries": list(self.libraries)}


@dataclass(frozen=True)
class WriteLog:
    """What one traced run did to the files of its data directory."""

    root: Path  # the data directory (resolved)
    db: str  # the database, relative to root
    ops: tuple[Op, ...]
    outcome: Outcome
    trace_bytes: int = 0
    seconds: float = 0.0
    libraries: tuple[str, ...] = ()  # libsqlite3 files opened (a dynamically linked engine)
    unmodelled: tuple[str, ...] = ()  # data moved in ways the trace does not show

    def written_bytes(self) -> int:
        return sum(len(op.data) for op in self.ops if isinstance(op, Write))


def sync_points(log: WriteLog) -> int:
    """The number of sync operations: images are made before each, and once at the end."""
    return sum(1 for op in log.ops if isinstance(op, (Sync, SyncAll)))


# ==========================================================================================
# Parsing strace output
# ==========================================================================================

_HEX = r"(?:\\x[0-9a-f]{2})*"
_FD = rf"(-?\d+|AT_FDCWD)(?:<({_HEX})>(\(deleted\))?)?"
_STR = rf"\"({_HEX})\"(\.\.\.)?"
_ARGS = {
    "write": re.compile(rf"^{_FD}, {_STR}, (\d+)$"),
    "pwrite64": re.compile(rf"^{_FD}, {_STR}, (\d+), (\d+)$"),
    "writev": re.compile(rf"^{_FD}, \[(.*)\], (\d+)$", re.DOTALL),
    "pwritev": re.compile(rf"^{_FD}, \[(.*)\], (\d+), (\d+)(?:, .*)?$", re.DOTALL),
    "openat": re.compile(rf"^{_FD}, {_STR}, ([^,]+)(?:, .*)?$"),
    "openat2": re.compile(rf"^{_FD}, {_STR}, \{{(.*)\}}(?:, .*)?$"),
    "open": re.compile(rf"^{_STR}, ([^,]+)(?:, .*)?$"),
    "creat": re.compile(rf"^{_STR}(?:, .*)?$"),
    "fd": re.compile(rf"^{_FD}$"),
    "fd_num": re.compile(rf"^{_FD}, (\d+)$"),
    "lseek": re.compile(rf"^{_FD}, (-?\d+), (\w+)$"),
    "fallocate": re.compile(rf"^{_FD}, ([^,]+), (\d+), (\d+)$"),
    "path": re.compile(rf"^{_STR}(?:, .*)?$"),
    "path_num": re.compile(rf"^{_STR}, (\d+)$"),
    "at_path": re.compile(rf"^{_FD}, {_STR}(?:, (.*))?$"),
    "rename": re.compile(rf"^{_STR}, {_STR}$"),
    "renameat": re.compile(rf"^{_FD}, {_STR}, {_FD}, {_STR}(?:, (.*))?$"),
    "mmap": re.compile(rf"^[^,]+, \d+, ([^,]+), ([^,]+), {_FD}, .*$"),
}
_IOV = re.compile(rf"iov_base={_STR}")


def _unhex(text: str) -> bytes:
    return bytes.fromhex(text.replace("\\x", ""))


class _Parser:
    """Turns trace lines into ``Op``s on files below ``root``; one ``_sys_<call>`` per call."""

    def __init__(self, root: Path, cwd: str) -> None:
        resolved, absolute = os.path.realpath(root), os.path.abspath(root)
        self.roots = tuple(dict.fromkeys((resolved, absolute)))
        self.launch_cwd = os.path.abspath(cwd)
        self.cwds: dict[str, str] = {}  # pid -> working directory (AT_FDCWD<...>, chdir, fchdir)
        self.offsets: dict[tuple[str, str], int] = {}  # (fd, absolute path) -> file position
        self.appending: set[tuple[str, str]] = set()
        self.ops: list[Op] = []
        self.unmodelled: list[str] = []
        self.libraries: dict[str, None] = {}

    # -- paths ------------------------------------------------------------------------------

    def relative(self, absolute: str | None) -> str | None:
        """``absolute`` relative to the data directory ("" for itself), or None when outside."""
        if absolute is None:
            return None
        path = os.path.normpath(absolute)
        for root in self.roots:
            if path == root:
                return ""
            if path.startswith(root + os.sep):
                rel = path[len(root) + 1:]
                return None if rel.endswith(IGNORED_SUFFIXES) else rel
        return None

    def absolute(self, pid: str, raw: str, dirfd: str | None = None, dirpath: str | None = None) -> str:
        name = os.fsdecode(_unhex(raw))
        if os.path.isabs(name):
            return os.path.normpath(name)
        if dirfd is not None and dirfd != "AT_FDCWD" and dirpath is not None:
            base = dirpath
        else:
            base = self.cwds.get(pid, self.launch_cwd)
        return os.path.normpath(os.path.join(base, name))

    @staticmethod
    def fd_path(hexpath: str | None) -> str | None:
        return os.fsdecode(_unhex(hexpath)) if hexpath else None

    # -- lines ------------------------------------------------------------------------------

    def feed(self, call: Syscall) -> None:
        if call.failed:
            return  # failed, interrupted or killed inside: no effect
        pid = str(call.pid)
        cwd = _CWD.search(call.args)
        if cwd:
            self.cwds[pid] = os.fsdecode(_unhex(cwd.group(1)))
        handler = getattr(self, "_sys_" + _ALIASES.get(call.name, call.name), None)
        if handler is not None:
            assert call.ret is not None
            handler(pid, call.name, call.args, call.ret, call.ret_path)

    # -- helpers ----------------------------------------------------------------------------

    def _add(self, op: Op) -> None:
        self.ops.append(op)

    def _put(self, fd: str, absolute: str, deleted: bool, offset: int | None, data: bytes) -> None:
        """A write of ``data`` through ``fd`` (at ``offset``, else at the descriptor's position)."""
        key = (fd, absolute)
        position: int | None = offset
        if offset is None and key not in self.appending:
            position = self.offsets.get(key, 0)
        if offset is None and position is not None:
            self.offsets[key] = position + len(data)
        rel = self.relative(absolute)
        if rel:
            self._add(Write(rel, position, data, deleted))

    def _payload(self, what: str, payload: bytes, truncated: bool, ret: int, where: str) -> bytes:
        if truncated or len(payload) < ret:
            raise PowerLossError(f"{what} of {ret} bytes to {where} was captured only in part "
                                 f"(longer than strace -s {MAX_STRING}): it cannot be replayed")
        return payload[:ret]

    def _opened(self, absolute: str, flags: str, fd: int, ret_path: str | None) -> None:
        actual = self.fd_path(ret_path) or absolute
        key = (str(fd), actual)
        self.offsets[key] = 0
        self.appending.discard(key)
        if "O_APPEND" in flags:
            self.appending.add(key)
        if "libsqlite3" in os.path.basename(actual):
            self.libraries[actual] = None
        rel = self.relative(actual)
        if not rel or "O_DIRECTORY" in flags:
            return
        if "O_TMPFILE" in flags:
            self.unmodelled.append(f"an O_TMPFILE file in {rel}")
            return
        if "O_CREAT" in flags:
            self._add(Create(rel))
        if "O_TRUNC" in flags:
            self._add(Truncate(rel, 0))

    def _named(self, absolute: str, make: Callable[[str], Op]) -> None:
        rel = self.relative(absolute)
        if rel:
            self._add(make(rel))

    def _renamed(self, source: str, target: str, flags: str) -> None:
        src, dst = self.relative(source), self.relative(target)
        if "RENAME_EXCHANGE" in flags and (src is not None or dst is not None):
            self.unmodelled.append(f"renameat2(RENAME_EXCHANGE) of {source} and {target}")
        elif src and dst:
            self._add(Rename(src, dst))
        elif src:  # moved out of the data directory: its name here is gone
            self._add(Unlink(src))
        elif dst:
            self.unmodelled.append(f"{dst} was moved in from outside the data directory ({source})")

    # -- system calls -----------------------------------------------------------------------

    def _sys_write(self, pid: str, name: str, args: str, ret: int, ret_path: str | None) -> None:
        positional = name == "pwrite64"
        match = _ARGS[name].match(args)
        if not match or match.group(2) is None:
            return
        fd, absolute, deleted = match.group(1), self.fd_path(match.group(2)) or "", bool(match.group(3))
        offset = int(match.group(7)) if positional else None
        if self.relative(absolute) is None:
            if not positional:  # keep positions right for files that are not replayed too
                self.offsets[(fd, absolute)] = self.offsets.get((fd, absolute), 0) + ret
            return
        data = self._payload("a write", _unhex(match.group(4)), bool(match.group(5)), ret, absolute)
        self._put(fd, absolute, deleted, offset, data)

    def _sys_writev(self, pid: str, name: str, args: str, ret: int, ret_path: str | None) -> None:
        positional = name != "writev"
        match = _ARGS["pwritev" if positional else "writev"].match(args)
        if not match or match.group(2) is None:
            return
        fd, absolute, deleted = match.group(1), self.fd_path(match.group(2)) or "", bool(match.group(3))
        offset = int(match.group(6)) if positional else None
        if self.relative(absolute) is None:
            if not positional:
                self.offsets[(fd, absolute)] = self.offsets.get((fd, absolute), 0) + ret
            return
        iov = match.group(4)
        pieces = _IOV.findall(iov)
        truncated = any(dots for _, dots in pieces) or iov.rstrip().endswith("...")
        data = self._payload("a vectored write", b"".join(_unhex(p) for p, _ in pieces), truncated, ret, absolute)
        self._put(fd, absolute, deleted, offset, data)

    def _sys_openat(self, pid: str, name: str, args: str, ret: int, ret_path: str | None) -> None:
        match = _ARGS[name].match(args)
        if match:
            absolute = self.absolute(pid, match.group(4), match.group(1), self.fd_path(match.group(2)))
            self._opened(absolute, match.group(6), ret, ret_path)

    def _sys_open(self, pid: str, name: str, args: str, ret: int, ret_path: str | None) -> None:
        match = _ARGS[name].match(args)
        if match:
            flags = "O_CREAT|O_TRUNC|O_WRONLY" if name == "creat" else match.group(3)
            self._opened(self.absolute(pid, match.group(1)), flags, ret, ret_path)

    def _sys_close(self, pid: str, name: str, args: str, ret: int, ret_path: str | None) -> None:
        match = _ARGS["fd"].match(args)
        if match:
            key = (match.group(1), self.fd_path(match.group(2)) or "")
            self.offsets.pop(key, None)
            self.appending.discard(key)

    def _sys_lseek(self, pid: str, name: str, args: str, ret: int, ret_path: str | None) -> None:
        match = _ARGS["lseek"].match(args)
        if match:
            self.offsets[(match.group(1), self.fd_path(match.group(2)) or "")] = ret

    def _sys_ftruncate(self, pid: str, name: str, args: str, ret: int, ret_path: str | None) -> None:
        match = _ARGS["fd_num"].match(args)
        if match:
            rel = self.relative(self.fd_path(match.group(2)))
            if rel:
                self._add(Truncate(rel, int(match.group(4)), bool(match.group(3))))

    def _sys_truncate(self, pid: str, name: str, args: str, ret: int, ret_path: str | None) -> None:
        match = _ARGS["path_num"].match(args)
        if match:
            size = int(match.group(3))
            self._named(self.absolute(pid, match.group(1)), lambda rel: Truncate(rel, size))

    def _sys_fallocate(self, pid: str, name: str, args: str, ret: int, ret_path: str | None) -> None:
        match = _ARGS["fallocate"].match(args)
        rel = self.relative(self.fd_path(match.group(2))) if match else None
        if not match or not rel:
            return
        mode, end = match.group(4), int(match.group(5)) + int(match.group(6))
        if mode == "0":
            self._add(Allocate(rel, end, bool(match.group(3))))
        elif mode != "FALLOC_FL_KEEP_SIZE":  # keep-size preallocation changes no byte
            self.unmodelled.append(f"fallocate({mode}) on {rel}")

    def _sys_fsync(self, pid: str, name: str, args: str, ret: int, ret_path: str | None) -> None:
        match = _ARGS["fd"].match(args)
        if match:
            rel = self.relative(self.fd_path(match.group(2)))
            if rel is not None:
                self._add(Sync(rel, bool(match.group(3))))

    def _sys_sync(self, pid: str, name: str, args: str, ret: int, ret_path: str | None) -> None:
        self._add(SyncAll())  # sync(), syncfs(): everything is durable (assumed on our file system)

    def _sys_names(self, pid: str, name: str, args: str, ret: int, ret_path: str | None) -> None:
        if name in ("unlinkat", "mkdirat"):
            match = _ARGS["at_path"].match(args)
            if not match:
                return
            absolute = self.absolute(pid, match.group(4), match.group(1), self.fd_path(match.group(2)))
            remove_dir = "AT_REMOVEDIR" in (match.group(6) or "")
        else:
            match = _ARGS["path"].match(args)
            if not match:
                return
            absolute = self.absolute(pid, match.group(1))
            remove_dir = name == "rmdir"
        kind: Callable[[str], Op] = Mkdir if name.startswith("mkdir") else Rmdir if remove_dir else Unlink
        self._named(absolute, kind)

    def _sys_rename(self, pid: str, name: str, args: str, ret: int, ret_path: str | None) -> None:
        if name == "rename":
            match = _ARGS["rename"].match(args)
            if match:
                self._renamed(self.absolute(pid, match.group(1)), self.absolute(pid, match.group(3)), "")
            return
        match = _ARGS["renameat"].match(args)
        if match:
            source = self.absolute(pid, match.group(4), match.group(1), self.fd_path(match.group(2)))
            target = self.absolute(pid, match.group(9), match.group(6), self.fd_path(match.group(7)))
            self._renamed(source, target, match.group(11) or "")

    def _sys_chdir(self, pid: str, name: str, args: str, ret: int, ret_path: str | None) -> None:
        if name == "fchdir":
            match = _ARGS["fd"].match(args)
            if match and match.group(2):
                self.cwds[pid] = self.fd_path(match.group(2)) or self.launch_cwd
            return
        match = _ARGS["path"].match(args)
        if match:
            self.cwds[pid] = self.absolute(pid, match.group(1))

    def _sys_mmap(self, pid: str, name: str, args: str, ret: int, ret_path: str | None) -> None:
        match = _ARGS["mmap"].match(args)
        if match and "PROT_WRITE" in match.group(1) and "MAP_SHARED" in match.group(2):
            rel = self.relative(self.fd_path(match.group(4)))
            if rel:
                self.unmodelled.append(f"a shared writable mmap of {rel}")

    def _sys_sendfile(self, pid: str, name: str, args: str, ret: int, ret_path: str | None) -> None:
        for found in _ANNOTATED_FD.finditer(args):
            rel = self.relative(self.fd_path(found.group(1)))
            if rel and ret > 0:
                self.unmodelled.append(f"{name} copied {ret} bytes in the kernel to or from {rel}")
                return


_CWD = re.compile(rf"AT_FDCWD<({_HEX})>")
_ANNOTATED_FD = re.compile(rf"\d+<({_HEX})>")
_ALIASES = {
    "pwrite64": "write", "pwritev": "writev", "pwritev2": "writev", "openat2": "openat", "creat": "open",
    "_llseek": "lseek", "fdatasync": "fsync", "syncfs": "sync", "unlink": "names", "unlinkat": "names",
    "rmdir": "names", "mkdir": "names", "mkdirat": "names", "renameat": "rename", "renameat2": "rename", "fchdir": "chdir",
    "sendfile64": "sendfile", "copy_file_range": "sendfile", "mmap2": "mmap",
}


def parse(lines: Iterable[str], root: Path, *, cwd: str | os.PathLike[str] | None = None) -> tuple[
        tuple[Op, ...], tuple[str, ...], tuple[str, ...]]:
    """The operations on files in ``root`` (and below) that an ``strace -f -xx -y`` trace
    shows, in completion order; also what cannot be replayed, and the libsqlite3 files
    opened. ``cwd``: the traced command's starting directory (for relative paths)."""
    parser = _Parser(root, os.fspath(cwd) if cwd is not None else os.getcwd())
    for call in read_trace(lines):
        parser.feed(call)
    return tuple(parser.ops), tuple(dict.fromkeys(parser.unmodelled)), tuple(parser.libraries)


# ==========================================================================================
# Recording
# ==========================================================================================


def strace_argv(tool: StraceTool, argv: Sequence[str], trace: Path) -> list[str]:
    """``argv`` under strace, every traced call of the whole process tree logged to ``trace``."""
    return tracing_argv(tool, argv, output=trace, calls=TRACED_CALLS, seccomp=tool.seccomp, strings=True)


Invoke = Callable[[Callable[[Sequence[str]], Sequence[str]]], Outcome]


def _record(invoke: Invoke, db: Path, cwd: Path | None) -> WriteLog:
    tool = strace_tool()
    if not tool.usable:
        raise PowerLossError(f"strace cannot trace here: {tool.reason}")
    root = Path(os.path.realpath(db.parent))
    with tempfile.TemporaryDirectory(prefix="harness-powerloss-trace-") as scratch:
        trace = Path(scratch) / "trace"
        start = time.perf_counter()
        outcome = invoke(lambda argv: strace_argv(tool, argv, trace))
        seconds = time.perf_counter() - start
        size = trace.stat().st_size if trace.exists() else 0
        if size == 0:
            raise PowerLossError(f"strace wrote no trace: {outcome.describe()} {outcome.stderr[-500:]}".strip())
        with open(trace, encoding="ascii", errors="replace") as lines:
            ops, unmodelled, libraries = parse(lines, root, cwd=cwd or os.getcwd())
    return WriteLog(root, db.name, ops, outcome, size, seconds, libraries, unmodelled)


def record(command: Sequence[str], db: Path, *, timeout: float, env: Mapping[str, str] | None = None,
           cwd: Path | None = None) -> WriteLog:
    """Run ``command`` once under strace and log what it did to ``db``'s directory.

    The command runs as the command adapter runs one (its own session; the whole process
    group killed at ``timeout``; ``env`` added to the environment); the adapter's
    placeholders (``{db}``, ``{data_dir}``, ``{harness_python}``) are expanded.
    """
    runner = CommandEngine("power-loss", {"run": list(command)}, timeout=timeout, cwd=cwd, env=env)
    return _record(lambda wrap: runner._invoke("run", db, None, wrap), db, cwd)  # noqa: SLF001


# ==========================================================================================
# Replay
# ==========================================================================================

_DIR = -1  # the namespace value of a directory


@dataclass
class _Inode:
    durable: bytearray
    current: bytearray
    pending: list[Op] = field(default_factory=list)  # data operations since the last sync


@dataclass(frozen=True)
class _Name:
    """A resolved name operation, replayable onto any namespace."""

    kind: str  # create, unlink, mkdir, rmdir, rename
    path: str
    target: str = ""
    inode: int = 0
    dirs: tuple[str, ...] = ()  # the directories whose entries it changes


def _parent(path: str) -> str:
    return os.path.dirname(path)


def _apply_name(names: dict[str, int], op: _Name) -> None:
    if op.kind == "create":
        names[op.path] = op.inode
    elif op.kind == "mkdir":
        names[op.path] = _DIR
    elif op.kind in ("unlink", "rmdir"):
        names.pop(op.path, None)
    elif op.kind == "rename":
        moved = names.pop(op.path, op.inode)
        names[op.target] = moved
        if moved == _DIR:
            prefix = op.path + "/"
            for name in [n for n in names if n.startswith(prefix)]:
                names[op.target + "/" + name[len(prefix):]] = names.pop(name)


def _apply_data(content: bytearray, op: Op) -> None:
    if isinstance(op, Write):
        offset = len(content) if op.offset is None else op.offset
        end = offset + len(op.data)
        if offset > len(content):
            content.extend(bytes(offset - len(content)))
        content[offset:end] = op.data
    elif isinstance(op, Truncate):
        if op.size < len(content):
            del content[op.size:]
        else:
            content.extend(bytes(op.size - len(content)))
    elif isinstance(op, Allocate):
        if op.end > len(content):
            content.extend(bytes(op.end - len(content)))


def _torn_write(content: bytearray, op: Write, keep: Callable[[int], list[int]]) -> str:
    """Apply only some of ``op``'s sectors; a description of what landed."""
    offset = len(content) if op.offset is None else op.offset
    end = offset + len(op.data)
    if end <= offset:
        return ""
    first, last = offset // SECTOR, (end - 1) // SECTOR
    sectors = list(range(first, last + 1))
    kept = sorted(keep(len(sectors)))
    for index in kept:
        sector = sectors[index]
        lo, hi = max(offset, sector * SECTOR), min(end, (sector + 1) * SECTOR)
        if lo > len(content):
            content.extend(bytes(lo - len(content)))
        content[lo:hi] = op.data[lo - offset:hi - offset]
    return f"{len(kept)} of {len(sectors)} sectors of its last unsynced write ({len(op.data)} bytes at {offset})"


@dataclass(frozen=True)
class Image:
    """The files a power cut leaves: rebuilt in ``directory`` (a copy of the data directory).

    ``point``: 1..``points`` -- just before that sync; ``points + 1`` -- after the run ended.
    """

    point: int
    points: int
    mode: str
    directory: Path
    db: Path
    unsynced: int  # data operations (writes, truncations) not durable at the cut, all files
    unsynced_names: int  # name operations (create, unlink, rename, mkdir, rmdir) not yet durable
    lost: tuple[str, ...] = ()  # what this mode lost or tore, per file
    sync: str = ""  # the sync the cut is before ("" at the end)
    sqlite: tuple[SqliteBuild, ...] = ()

    @property
    def end(self) -> bool:
        return self.point > self.points

    def describe(self) -> str:
        where = "after the run" if self.end else f"before sync {self.point} of {self.points} ({self.sync})"
        return f"power loss ({self.mode}) {where}"


class _Replay:
    def __init__(self, log: WriteLog, start: Mapping[str, bytes | str | os.PathLike[str]]) -> None:
        self.log = log
        self.inodes: dict[int, _Inode] = {}
        self.names: dict[str, int] = {}
        for name, value in sorted(start.items()):
            rel = name.strip("/")
            if name.endswith("/"):
                self._ensure_dirs(rel, self.names)
                if rel:
                    self.names[rel] = _DIR
                continue
            if rel.endswith(IGNORED_SUFFIXES):
                continue
            data = bytes(value) if isinstance(value, (bytes, bytearray)) else Path(value).read_bytes()
            self._ensure_dirs(_parent(rel), self.names)
            self.names[rel] = self._new_inode(data)
        self.durable_names = dict(self.names)
        self.meta: list[_Name] = []
        self.durable_meta = 0
        self.unlinked: dict[str, int] = {}

    def _new_inode(self, data: bytes = b"") -> int:
        number = len(self.inodes) + 1
        self.inodes[number] = _Inode(bytearray(data), bytearray(data))
        return number

    @staticmethod
    def _ensure_dirs(path: str, names: dict[str, int]) -> None:
        while path and path not in names:
            names[path] = _DIR
            path = _parent(path)

    def _inode(self, path: str, deleted: bool) -> int | None:
        number = self.unlinked.get(path) if deleted else self.names.get(path)
        if number is None and not deleted:
            number = self.unlinked.get(path)  # written after an unlink the trace showed first
        return None if number == _DIR else number

    def _name(self, op: _Name) -> None:
        if op.kind in ("unlink", "rename") and op.path in self.names and self.names[op.path] != _DIR:
            self.unlinked[op.path] = self.names[op.path]
        if op.kind == "rename" and self.names.get(op.target, _DIR) != _DIR:
            self.unlinked[op.target] = self.names[op.target]
        self._ensure_dirs(_parent(op.path), self.names)
        _apply_name(self.names, op)
        self.meta.append(op)

    def apply(self, op: Op) -> None:
        if isinstance(op, _DATA_OPS):
            number = self._inode(op.path, op.deleted)
            if number is None:
                raise PowerLossError(f"the trace writes to {op.path}, which is neither a starting file nor "
                                     f"created in the trace")
            inode = self.inodes[number]
            if isinstance(op, Write) and op.offset is None:
                op = dataclasses.replace(op, offset=len(inode.current))
            _apply_data(inode.current, op)
            inode.pending.append(op)
        elif isinstance(op, Create):
            if op.path not in self.names:
                self._name(_Name("create", op.path, inode=self._new_inode(), dirs=(_parent(op.path),)))
        elif isinstance(op, Mkdir):
            if op.path not in self.names:
                self._name(_Name("mkdir", op.path, dirs=(_parent(op.path),)))
        elif isinstance(op, (Unlink, Rmdir)):
            if op.path in self.names:
                self._name(_Name("unlink" if isinstance(op, Unlink) else "rmdir", op.path, dirs=(_parent(op.path),)))
        elif isinstance(op, Rename):
            if op.source in self.names and op.source != op.target:
                self._name(_Name("rename", op.source, op.target, self.names[op.source],
                                 (_parent(op.source), _parent(op.target))))
        elif isinstance(op, Sync):
            if op.path == "" or (not op.deleted and self.names.get(op.path) == _DIR):
                self._directory_synced(op.path)
            else:
                number = self._inode(op.path, op.deleted)
                if number is not None:
                    inode = self.inodes[number]
                    inode.durable = bytearray(inode.current)
                    inode.pending.clear()
        elif isinstance(op, SyncAll):
            for inode in self.inodes.values():
                inode.durable = bytearray(inode.current)
                inode.pending.clear()
            self._names_durable(len(self.meta))

    def _directory_synced(self, directory: str) -> None:
        for index in range(len(self.meta) - 1, self.durable_meta - 1, -1):
            if directory in self.meta[index].dirs:
                self._names_durable(index + 1)
                return

    def _names_durable(self, upto: int) -> None:
        for op in self.meta[self.durable_meta:upto]:
            self._ensure_dirs(_parent(op.path), self.durable_names)
            _apply_name(self.durable_names, op)
        self.durable_meta = max(self.durable_meta, upto)

    def image(self, mode: str, point: int, points: int, seed: int, directory: Path, sync: str) -> Image:
        lost: list[str] = []
        names = self.durable_names if mode == MODE_DROP else self.names
        unsynced_names = len(self.meta) - self.durable_meta
        if mode == MODE_DROP and unsynced_names:
            lost.append(f"{unsynced_names} name operation(s) not made durable by a directory sync")
        directory.mkdir(parents=True, exist_ok=True)
        for path, number in sorted(names.items()):
            target = directory / path
            if number == _DIR:
                target.mkdir(parents=True, exist_ok=True)
                continue
            inode = self.inodes[number]
            if mode == MODE_KEEP:
                content = inode.current
            elif mode == MODE_DROP:
                content = inode.durable
                if inode.pending:
                    lost.append(f"{path}: {len(inode.pending)} unsynced operation(s) dropped")
            else:
                content = self._tear(inode, path, point, seed, lost) if inode.pending else inode.current
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        unsynced = sum(len(inode.pending) for inode in self.inodes.values())
        return Image(point, points, mode, directory, directory / self.log.db, unsynced, unsynced_names,
                     tuple(lost), sync)

    def _tear(self, inode: _Inode, path: str, point: int, seed: int, lost: list[str]) -> bytearray:
        content = bytearray(inode.durable)
        last = max((i for i, op in enumerate(inode.pending) if isinstance(op, Write)), default=-1)

        def keep(count: int) -> list[int]:
            if seed == 0:
                return list(range(count // 2))
            rng = random.Random(f"{seed}:{point}:{path}")
            return rng.sample(range(count), rng.randrange(count))

        for index, op in enumerate(inode.pending):
            if index == last:
                assert isinstance(op, Write)
                torn = _torn_write(content, op, keep)
                if torn:
                    lost.append(f"{path}: {torn}")
            else:
                _apply_data(content, op)
        return content


def _describe_sync(op: Op) -> str:
    if isinstance(op, SyncAll):
        return "sync()"
    assert isinstance(op, Sync)
    return f"fsync {op.path or '<data dir>'}" + (" (deleted)" if op.deleted else "")


def images(log: WriteLog, start: Mapping[str, bytes | str | os.PathLike[str]], mode: str, seed: int = 0, *,
           into: Path | None = None) -> Iterator[Image]:
    """The ``sync_points(log) + 1`` images of ``mode`` (module docstring), in order.

    ``start``: the data directory's files before the run, by path relative to it (bytes or a
    file to read; a key ending in ``/`` is a directory). ``into``: where each image's
    directory is made (``<into>/<mode>-<point>``, kept); without it, one temporary directory
    per image, removed when the next image is made or the iteration ends.
    """
    if mode not in MODES:
        raise ValueError(f"unknown power-loss mode {mode!r}; expected one of {', '.join(MODES)}")
    if log.unmodelled:
        raise PowerLossError("the trace cannot be replayed faithfully: " + "; ".join(log.unmodelled))
    replay = _Replay(log, start)
    points = sync_points(log)
    scratch: tempfile.TemporaryDirectory[str] | None = None
    point = 0

    def make(sync: str) -> Image:
        nonlocal scratch
        if into is None:
            if scratch is not None:
                scratch.cleanup()
            scratch = tempfile.TemporaryDirectory(prefix=f"harness-powerloss-{mode}-{point}-")
            directory = Path(scratch.name) / "data"
        else:
            directory = into / f"{mode}-{point:04d}"
            if directory.exists():
                shutil.rmtree(directory)
        return replay.image(mode, point, points, seed, directory, sync)

    try:
        for op in log.ops:
            if isinstance(op, (Sync, SyncAll)):
                point += 1
                yield make(_describe_sync(op))
            replay.apply(op)
        point += 1
        yield make("")
    finally:
        if scratch is not None:
            scratch.cleanup()


def start_files(data_dir: Path, into: Path) -> dict[str, Path | bytes]:
    """A copy of ``data_dir`` (``-shm`` left out) in ``into``, as ``images`` takes a start."""
    found: dict[str, Path | bytes] = {}
    for dirpath, dirnames, filenames in os.walk(data_dir):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, data_dir)
        rel_dir = "" if rel_dir == "." else rel_dir
        if rel_dir:
            found[rel_dir + "/"] = b""
        for name in sorted(filenames):
            rel = os.path.join(rel_dir, name)
            if name.endswith(IGNORED_SUFFIXES) or not os.path.isfile(os.path.join(dirpath, name)):
                continue
            copy = into / rel
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(os.path.join(dirpath, name), copy)
            found[rel] = copy
    return found


# ==========================================================================================
# Engines
# ==========================================================================================


def unsupported_reason(engine: object, operation: str = OP_MIGRATE, *, python_target: str | None = None) -> str | None:
    """Why ``power_loss_runs`` cannot run ``operation`` of ``engine`` here (None: it can)."""
    if operation not in (OP_MIGRATE, OP_OPEN):
        return f"power loss drills run migrate or open, not {operation}"
    tool = strace_tool()
    if not tool.usable:
        return f"strace cannot trace here: {tool.reason}"
    if isinstance(engine, CommandEngine):
        if operation not in engine._commands:  # noqa: SLF001
            return f"{engine.name} has no {operation} command"
        return None
    if isinstance(engine, PythonEngine):
        if operation not in engine.operations:
            return f"{engine.name} has no {operation} operation"
        if ":" not in (python_target or engine.name):
            return (f"{engine.name!r} is no import target (module:attr or file.py:attr) for the child process; "
                    "pass python_target")
        return None
    return f"{type(engine).__name__} engines cannot be traced (python and command adapters only)"


def supported(engine: object, operation: str = OP_MIGRATE, *, python_target: str | None = None) -> bool:
    """Whether strace and ptrace work here and ``engine`` is of a kind that can be traced."""
    return unsupported_reason(engine, operation, python_target=python_target) is None


def harness_sqlite() -> SqliteBuild:
    """The harness's own SQLite: the library that reopens and judges the images."""
    build = sqlite_build()
    return SqliteBuild("harness", str(build["sqlite_version"]), tuple(build["compile_options"]))  # type: ignore[arg-type]


def _child_sqlite(stdout: str, libraries: tuple[str, ...]) -> SqliteBuild | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER):
            try:
                found = json.loads(line[len(MARKER):])
                return SqliteBuild("engine", str(found["sqlite_version"]),
                                   tuple(str(o) for o in found["compile_options"]), libraries)
            except (ValueError, KeyError, TypeError):
                return None
    return None


@dataclass
class PowerLossRun:
    """One traced operation and the images it leads to (``images()``, lazily, every mode)."""

    operation: str
    target: int | None
    log: WriteLog
    start: Mapping[str, Path | bytes]
    modes: tuple[str, ...]
    seed: int
    into: Path
    engine_sqlite: SqliteBuild
    harness_sqlite: SqliteBuild
    owns_into: bool = False

    @property
    def outcome(self) -> Outcome:
        return self.log.outcome

    @property
    def sync_points(self) -> int:
        return sync_points(self.log)

    @property
    def sqlite(self) -> tuple[SqliteBuild, ...]:
        return (self.engine_sqlite, self.harness_sqlite)

    def images(self, modes: Sequence[str] | None = None) -> Iterator[Image]:
        """Every image of ``modes`` (default: the run's), each carrying ``sqlite``; kept in
        ``into/images/<mode>-<point>`` (a second call rebuilds them there)."""
        for mode in modes or self.modes:
            for image in images(self.log, self.start, mode, self.seed, into=self.into / "images"):
                yield dataclasses.replace(image, sqlite=self.sqlite)

    def observations(self) -> dict[str, object]:
        """For a verdict: the run's size and the SQLite libraries involved."""
        return {"operation": self.operation, "sync_points": self.sync_points, "ops": len(self.log.ops),
                "written_bytes": self.log.written_bytes(), "trace_bytes": self.log.trace_bytes,
                "traced_seconds": round(self.log.seconds, 3), "modes": list(self.modes), "seed": self.seed,
                "sqlite": [build.as_dict() for build in self.sqlite]}

    def close(self) -> None:
        if self.owns_into:
            shutil.rmtree(self.into, ignore_errors=True)

    def __enter__(self) -> PowerLossRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _child_command(python_target: str, operation: str, options: Mapping[str, object] | None,
                   sys_path: Sequence[str | os.PathLike[str]], scenario: Path | None) -> list[str]:
    argv = [sys.executable, "-m", "harness.engines.child", python_target, operation, "{db}"]
    if operation == OP_MIGRATE:
        argv += ["--target", "{target}"]
    if options:
        argv += ["--options", json.dumps(dict(options))]
    for entry in sys_path:
        argv += ["--sys-path", os.fspath(entry)]
    if scenario is not None:
        argv += ["--scenario", str(scenario)]
    return argv


def power_loss_runs(engine: object, db: Path, target: int | None = None, *, operation: str = OP_MIGRATE,
                    modes: Sequence[str] = MODES, seed: int = 0, into: Path | None = None,
                    timeout: float | None = None, python_target: str | None = None,
                    options: Mapping[str, object] | None = None, sys_path: Sequence[str | os.PathLike[str]] = (),
                    scenario: Path | None = None) -> PowerLossRun:
    """Run ``operation`` (``migrate`` up to ``target``, or ``open``) of ``engine`` on ``db``
    once under strace, and return the run, whose ``images()`` are the power cuts.

    ``db``'s directory is the data directory: its files are copied first (the start), then
    the operation runs there for real. Python engines run in ``python -m
    harness.engines.child`` with ``python_target`` (default: the engine's name, which the
    loader sets to the scenario's ``engine.target``), ``options`` (for a class or factory),
    ``sys_path`` and ``scenario`` (what relative file targets are relative to); command
    engines run their own command. ``timeout``: python engines' child (default: the
    engine's ``fault_timeout``, else 120 s);
    command engines keep their own. ``into``: where the start copy and images go (default:
    a temporary directory the run removes on ``close()``).
    """
    problem = unsupported_reason(engine, operation, python_target=python_target)
    if problem:
        raise PowerLossError(problem)
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"unknown power-loss mode {mode!r}; expected one of {', '.join(MODES)}")
    owns = into is None
    base = Path(tempfile.mkdtemp(prefix="harness-powerloss-")) if into is None else into
    try:
        base.mkdir(parents=True, exist_ok=True)
        start_dir = base / "start"
        if start_dir.exists():
            shutil.rmtree(start_dir)
        start_dir.mkdir()
        db.parent.mkdir(parents=True, exist_ok=True)
        start = start_files(db.parent, start_dir)
        if isinstance(engine, CommandEngine):
            runner, cwd = engine, engine._cwd  # noqa: SLF001
        else:
            assert isinstance(engine, PythonEngine)
            command = _child_command(python_target or engine.name, operation, options, sys_path, scenario)
            package_root = str(Path(__file__).resolve().parents[2])  # harness importable in the child
            python_path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
            runner = CommandEngine(engine.name, {operation: command},
                                   timeout=timeout or engine.fault_timeout or DEFAULT_TIMEOUT,
                                   env={"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": python_path})
            cwd = None
        log = _record(lambda wrap: runner._invoke(operation, db, target, wrap), db, cwd)  # noqa: SLF001
        engine_build = _child_sqlite(log.outcome.stdout, log.libraries) if isinstance(engine, PythonEngine) else None
        if engine_build is None:
            engine_build = SqliteBuild("engine", None, (), log.libraries)  # an executable's own: unknown
        return PowerLossRun(operation, target, log, start, tuple(modes), seed, base, engine_build, harness_sqlite(),
                            owns)
    except BaseException:
        if owns:
            shutil.rmtree(base, ignore_errors=True)
        raise


__all__ = [
    "MODES", "Allocate", "Create", "Image", "Mkdir", "Op", "PowerLossError", "PowerLossRun", "Rename", "Rmdir",
    "SqliteBuild", "Sync", "SyncAll", "Truncate", "Unlink", "Write", "WriteLog", "harness_sqlite", "images", "parse",
    "power_loss_runs", "record", "start_files", "strace_argv", "supported", "sync_points",
    "unsupported_reason",
]
