"""What a traced run did to the files of its data directory: the power-loss log.

The log (``WriteLog.ops``), in the order the calls completed
    ``Create(path)`` (a successful open with ``O_CREAT``: creates the file if absent),
    ``Write(path, offset, data)`` (``offset`` None: ``O_APPEND``), ``Truncate(path, size)``
    (also ``O_TRUNC``), ``Allocate(path, end)`` (``fallocate`` mode 0), ``Sync(path)``
    (``fsync``/``fdatasync`` of a file or a directory), ``SyncAll()`` (``sync``, ``syncfs``),
    ``Unlink(path)``, ``Mkdir(path)``, ``Rmdir(path)``, ``Rename(source, target)``, and
    ``Copy(path, offset, source, source_offset, length)``: data the kernel copied from one
    file to another without it passing through the process (``sendfile``,
    ``copy_file_range``, ``splice`` through a pipe, the ``FICLONE``/``FICLONERANGE`` ioctls),
    taken at replay from the source's modelled content at that moment. Paths
    are relative to the data directory (``""`` is the directory itself). ``write`` without
    an offset uses the position the parser tracks per descriptor (``openat``, ``lseek``'s
    result, earlier writes). An operation on a descriptor whose file was unlinked
    (``-y`` says ``(deleted)``) has ``deleted=True`` and applies to the file last unlinked
    under that name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Union

from harness.engines.protocol import Outcome

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
class Copy:
    """``length`` bytes of ``source`` from ``source_offset`` written to ``path`` at ``offset``
    (None: at the end, ``O_APPEND``). ``length`` None: to the end of the source; ``clone``:
    the whole file replaced by the source's content (``FICLONE``)."""

    path: str
    offset: int | None
    source: str
    source_offset: int
    length: int | None
    deleted: bool = False
    source_deleted: bool = False
    clone: bool = False


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


Op = Union[Create, Write, Copy, Truncate, Allocate, Sync, SyncAll, Unlink, Mkdir, Rmdir, Rename]


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


__all__ = ["IGNORED_SUFFIXES", "Allocate", "Copy", "Create", "Mkdir", "Op", "PowerLossError", "Rename", "Rmdir", "Sync",
           "SyncAll", "Truncate", "Unlink", "Write", "WriteLog", "sync_points"]
