"""Recording: one run under strace, its trace read into the power-loss log (``fileops``).

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
                     ?mmap,?sendfile,?sendfile64,?copy_file_range,?splice,ioctl,read,?readv \\
            -e raw=read,readv -- ARGV...

    ``-y`` prints the path behind every file descriptor, ``-xx`` prints every string (data
    and paths) as ``\\xNN`` escapes, so the parser never meets an ambiguous quote, and ``-s``
    is raised to 1 MiB so whole pages are captured (a write longer than that is refused
    rather than replayed short: ``PowerLossError``). A ``?`` lets strace skip a call the
    architecture lacks; ``read``/``readv`` are traced raw (no data captured: only that a
    descriptor's position moved). ``--seccomp-bpf`` is used when the probe found it
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
    a crash; their bytes are no durable state).

    In-kernel copies are ``Copy`` operations, their data taken at replay from the source's
    modelled content: ``sendfile`` (Python's ``shutil.copyfile``), ``copy_file_range``
    (Rust's ``std::fs::copy``), ``splice`` from a file into a pipe and from the pipe into a
    file (the pipe's queue is followed), and the ``FICLONE``/``FICLONERANGE`` ioctls (``cp
    --reflink``). A source given by its descriptor's position is placed by the positions the
    trace shows (``openat``, ``lseek``, earlier copies); after a ``read()`` on that
    descriptor the position is unknown. What a trace cannot place is listed in
    ``WriteLog.unmodelled`` and ``images`` refuses the log: such a copy, a copy into the
    data directory from a file outside it or from a pipe filled otherwise, and a shared
    writable ``mmap`` of a file in the data directory.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from harness.engines.protocol import Outcome
from harness.tracing.fileops import (
    IGNORED_SUFFIXES, Allocate, Copy, Create, Mkdir, Op, PowerLossError, Rename, Rmdir, Sync, SyncAll, Truncate, Unlink,
    Write, WriteLog,
)
from harness.tracing.strace import MAX_STRING, StraceTool, strace_tool
from harness.tracing.strace import strace_argv as tracing_argv
from harness.tracing.trace import Syscall, read_trace

TRACED_CALLS = (
    "openat", "?open", "?creat", "?openat2", "write", "pwrite64", "writev", "pwritev", "?pwritev2",
    "ftruncate", "?truncate", "?fallocate", "fsync", "fdatasync", "?sync", "?syncfs", "unlink", "unlinkat",
    "?rename", "renameat", "?renameat2", "?mkdir", "mkdirat", "?rmdir", "close", "lseek", "?chdir", "?fchdir",
    "?mmap", "?sendfile", "?sendfile64", "?copy_file_range", "?splice", "ioctl", "read", "?readv",
)
RAW_CALLS = ("read", "readv")  # only their descriptor matters (a copy's source position): no data


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


_HEX = r"(?:\\x[0-9a-f]{2})*"
_FD = rf"(-?\d+|AT_FDCWD)(?:<({_HEX})>(\(deleted\))?)?"
_STR = rf"\"({_HEX})\"(\.\.\.)?"
_OFFSET = r"(NULL|\[(\d+)\](?: => \[\d+\])?)"  # a loff_t pointer: NULL (the descriptor's position) or [n]
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
    "sendfile": re.compile(rf"^{_FD}, {_FD}, {_OFFSET}, \d+$"),
    "copy_file_range": re.compile(rf"^{_FD}, {_OFFSET}, {_FD}, {_OFFSET}, \d+, .*$"),
    "ficlone": re.compile(rf"^{_FD}, (?:BTRFS_IOC_CLONE or )?FICLONE, (\d+)(?:<({_HEX})>(\(deleted\))?)?$"),
    "ficlonerange": re.compile(rf"^{_FD}, (?:BTRFS_IOC_CLONE_RANGE or )?FICLONERANGE, \{{src_fd=(\d+)"
                               rf"(?:<({_HEX})>(\(deleted\))?)?, src_offset=(\d+), src_length=(\d+), "
                               rf"dest_offset=(\d+)\}}$"),
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
        self.fds: dict[str, str] = {}  # descriptor -> path, for arguments strace prints as a bare number
        self.read_from: set[str] = set()  # descriptors read() since their position was last known
        self.pipes: dict[str, list[tuple[str | None, int, int, bool]]] = {}  # pipe -> (source, offset, length, deleted)

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

    def _advance(self, fd: str, absolute: str, offset: int | None, length: int) -> int | None:
        """Where ``length`` bytes through ``fd`` land: ``offset``, else the descriptor's position
        (which moves on; None: appending)."""
        key = (fd, absolute)
        position: int | None = offset
        if offset is None and key not in self.appending:
            position = self.offsets.get(key, 0)
        if offset is None and position is not None:
            self.offsets[key] = position + length
        return position

    def _put(self, fd: str, absolute: str, deleted: bool, offset: int | None, data: bytes) -> None:
        """A write of ``data`` through ``fd`` (at ``offset``, else at the descriptor's position)."""
        position = self._advance(fd, absolute, offset, len(data))
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
        self.fds[str(fd)] = actual
        self.read_from.discard(str(fd))
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
            self.fds.pop(match.group(1), None)
            self.read_from.discard(match.group(1))

    def _sys_lseek(self, pid: str, name: str, args: str, ret: int, ret_path: str | None) -> None:
        match = _ARGS["lseek"].match(args)
        if match:
            self.offsets[(match.group(1), self.fd_path(match.group(2)) or "")] = ret
            self.read_from.discard(match.group(1))

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

    def _sys_read(self, pid: str, name: str, args: str, ret: int, ret_path: str | None) -> None:
        """``read``/``readv`` (traced raw): the descriptor's position is no longer known."""
        fd = args.split(",", 1)[0].strip()
        try:
            self.read_from.add(str(int(fd, 0)))
        except ValueError:
            pass

    def _sys_sendfile(self, pid: str, name: str, args: str, ret: int, ret_path: str | None) -> None:
        """``sendfile``, ``copy_file_range`` and ``splice``: a copy inside the kernel."""
        if name.startswith("sendfile"):
            match = _ARGS["sendfile"].match(args)
            if match:
                out, into = match.group(1, 2, 3), match.group(4, 5, 6)
                self._copied(name, into, match.group(8), out, None, ret)
                return
        else:
            match = _ARGS["copy_file_range"].match(args)
            if match:
                self._copied(name, match.group(1, 2, 3), match.group(5), match.group(6, 7, 8), match.group(10), ret)
                return
        for found in _ANNOTATED_FD.finditer(args):  # a shape this parser does not know
            rel = self.relative(self.fd_path(found.group(1)))
            if rel and ret > 0:
                self.unmodelled.append(f"{name} copied {ret} bytes in the kernel to or from {rel}")
                return

    def _sys_ioctl(self, pid: str, name: str, args: str, ret: int, ret_path: str | None) -> None:
        """``FICLONE`` (the whole file) and ``FICLONERANGE``; other ioctls change no file data."""
        match = _ARGS["ficlone"].match(args)
        if match:
            self._copied("FICLONE", match.group(4, 5, 6), "0", match.group(1, 2, 3), "0", None, clone=True)
            return
        match = _ARGS["ficlonerange"].match(args)
        if match:
            length = int(match.group(8)) or None  # 0: to the end of the source
            self._copied("FICLONERANGE", match.group(4, 5, 6), match.group(7), match.group(1, 2, 3), match.group(9),
                         length)

    def _copied(self, call: str, source: tuple[str, str | None, str | None], source_offset: str | None,
                target: tuple[str, str | None, str | None], target_offset: str | None, length: int | None, *,
                clone: bool = False) -> None:
        """Data moved from ``source`` to ``target`` (each: descriptor, hex path, ``(deleted)``)."""
        if length == 0:
            return  # nothing moved (a copy loop's last call, at the end of the source)
        src_fd, dst_fd = source[0], target[0]
        src_abs = self.fd_path(source[1]) or self.fds.get(src_fd, "")
        dst_abs = self.fd_path(target[1]) or self.fds.get(dst_fd, "")
        count = length or 0
        position: int | None = None  # where the data came from in the source; None: not known
        if source_offset is not None:
            position = int(source_offset)
        elif src_fd not in self.read_from:
            position = self._advance(src_fd, src_abs, None, count)
        src_rel, dst_rel = self.relative(src_abs), self.relative(dst_abs)
        if dst_abs.startswith("pipe:"):
            known = src_rel if position is not None else None
            self.pipes.setdefault(dst_abs, []).append((known, position or 0, count, bool(source[2])))
            return
        into = self._advance(dst_fd, dst_abs, None if target_offset is None else int(target_offset), count)
        if not dst_rel:
            return
        dst_deleted = bool(target[2])
        if src_abs.startswith("pipe:"):
            for piece, offset, size, deleted in self._drain(src_abs, count):
                if piece is None:
                    self.unmodelled.append(f"{call} moved {size} bytes into {dst_rel} from a pipe the trace "
                                           "does not show filled from a file here")
                    return
                self._add(Copy(dst_rel, into, piece, offset, size, dst_deleted, deleted))
                into = None if into is None else into + size
        elif src_rel is None:
            self.unmodelled.append(f"{call} copied {count} bytes into {dst_rel} from outside the data directory "
                                   f"({src_abs or 'descriptor ' + src_fd})")
        elif position is None:
            self.unmodelled.append(f"{call} copied from {src_rel} at its descriptor's position after a read() "
                                   "the trace does not place")
        else:
            self._add(Copy(dst_rel, into, src_rel, position, length, dst_deleted, bool(source[2]), clone))

    def _drain(self, pipe: str, count: int) -> list[tuple[str | None, int, int, bool]]:
        """The first ``count`` bytes queued in ``pipe``, as (source, offset, length, deleted) pieces."""
        queue, taken = self.pipes.get(pipe, []), []
        while count > 0:
            if not queue:
                taken.append((None, 0, count, False))
                break
            source, offset, size, deleted = queue[0]
            piece = min(size, count)
            taken.append((source, offset, piece, deleted))
            if piece == size:
                queue.pop(0)
            else:
                queue[0] = (source, offset + piece, size - piece, deleted)
            count -= piece
        return taken


_CWD = re.compile(rf"AT_FDCWD<({_HEX})>")
_ANNOTATED_FD = re.compile(rf"\d+<({_HEX})>")
_ALIASES = {
    "pwrite64": "write", "pwritev": "writev", "pwritev2": "writev", "openat2": "openat", "creat": "open",
    "_llseek": "lseek", "fdatasync": "fsync", "syncfs": "sync", "unlink": "names", "unlinkat": "names",
    "rmdir": "names", "mkdir": "names", "mkdirat": "names", "renameat": "rename", "renameat2": "rename", "fchdir": "chdir",
    "sendfile64": "sendfile", "copy_file_range": "sendfile", "splice": "sendfile", "mmap2": "mmap",
    "readv": "read",
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


def strace_argv(tool: StraceTool, argv: Sequence[str], trace: Path) -> list[str]:
    """``argv`` under strace, every traced call of the whole process tree logged to ``trace``."""
    return tracing_argv(tool, argv, output=trace, calls=TRACED_CALLS, seccomp=tool.seccomp, strings=True,
                        raw=RAW_CALLS)


Invoke = Callable[[Callable[[Sequence[str]], Sequence[str]]], Outcome]


def record_run(invoke: Invoke, db: Path, cwd: Path | None) -> WriteLog:
    """Run ``invoke`` once with its argv wrapped in strace; the log of ``db``'s directory.

    ``invoke`` runs the operation with the argv rewriter it is given (an adapter's traced
    run); ``cwd``: where its command starts (relative paths in the trace resolve there)."""
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


__all__ = ["TRACED_CALLS", "SqliteBuild", "parse", "record_run", "strace_argv"]
