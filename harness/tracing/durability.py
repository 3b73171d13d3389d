"""The durability model: the files a power cut at each sync point leaves, from the log.

Replay: the durability rule (``images``)
    The sync points are the ``Sync``/``SyncAll`` operations, numbered 1..S in log order.
    Image k (1..S) is the disk after a power cut just before sync k takes effect; image
    S+1 ("end") after the process exited with nothing synced after its last sync. At a cut:

    - File data: every write and truncate of a file made before that file's last completed
      sync is durable (``fsync`` and ``fdatasync`` alike: both flush data and size); the
      later ones are unsynced.
    - Names (create, unlink, rename, mkdir, rmdir) are durable only once the directory
      holding the entry is synced after them, per directory: a ``Sync`` of directory D
      makes durable the pending name operations on D's entries, in order, and no other
      (a sync of D says nothing about its parent or its siblings). A rename counts for the
      directory it moves the entry into and takes the old name with it (renames are atomic
      on journalling file systems), and it takes along the pending operation that created
      its source (a rename cannot outlive its source's creation). An entry is reachable
      only when every directory above it is durable in its own parent: a file created in a
      new ``backups/`` is lost with it until the data directory is synced after the
      ``mkdir``. This is POSIX's rule, which SQLite follows for its journals (it fsyncs the
      directory after creating a journal or WAL unless built with SQLITE_DISABLE_DIRSYNC);
      it catches the ext4-style "rename over a file that was never synced" bug and a
      quarantine or snapshot directory whose parent is never synced. A file whose creation
      is not durable is absent; its synced data is unreachable. The starting files are
      durable. ``sync()``/``syncfs()`` make everything durable.
    - In-kernel copies (``Copy``) are writes of the source's modelled content at the
      moment of the copy, unsynced like any write until their target is synced.

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
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping

from harness.tracing.fileops import (
    IGNORED_SUFFIXES, Allocate, Copy, Create, Mkdir, Op, PowerLossError, Rename, Rmdir, Sync, SyncAll, Truncate, Unlink,
    Write, WriteLog, sync_points,
)
from harness.tracing.recording import SqliteBuild

MODES = ("drop", "tear", "keep")
MODE_DROP, MODE_TEAR, MODE_KEEP = MODES
SECTOR = 512
_DATA_OPS = (Write, Truncate, Allocate)


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
    directory: str = ""  # the directory whose sync makes it durable
    seq: int = 0  # its place in the log

    @property
    def result(self) -> str:
        """The name it makes exist (``""``: none)."""
        return self.target if self.kind == "rename" else self.path if self.kind in ("create", "mkdir") else ""


def _parent(path: str) -> str:
    return os.path.dirname(path)


def _ancestors(path: str) -> Iterator[str]:
    """The directories above ``path`` in the data directory, nearest first (not the data directory)."""
    parent = _parent(path)
    while parent:
        yield parent
        parent = _parent(parent)


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
        self.pending: list[_Name] = []  # name operations no directory sync has made durable yet
        self.seq = 0
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
        self.pending.append(op)

    def _named(self, kind: str, path: str, target: str = "", inode: int = 0) -> None:
        """A name operation: durable once the directory it changes is synced (for a rename,
        the one it moves the entry into; renames are atomic, so the old name goes with it)."""
        self.seq += 1
        self._name(_Name(kind, path, target, inode, _parent(target if kind == "rename" else path), self.seq))

    def _copied(self, op: Copy) -> list[Op]:
        """An in-kernel copy as the data operations it amounts to, from the source's content now."""
        number = self._inode(op.source, op.source_deleted)
        if number is None:
            raise PowerLossError(f"the trace copies from {op.source}, which is neither a starting file nor "
                                 f"created in the trace")
        source = self.inodes[number].current
        end = len(source) if op.length is None else op.source_offset + op.length
        data = bytes(source[op.source_offset:end])
        write = Write(op.path, 0 if op.clone else op.offset, data, op.deleted)
        return [Truncate(op.path, 0, op.deleted), write] if op.clone else [write]

    def apply(self, op: Op) -> None:
        if isinstance(op, Copy):
            for data_op in self._copied(op):
                self.apply(data_op)
        elif isinstance(op, _DATA_OPS):
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
                self._named("create", op.path, inode=self._new_inode())
        elif isinstance(op, Mkdir):
            if op.path not in self.names:
                self._named("mkdir", op.path)
        elif isinstance(op, (Unlink, Rmdir)):
            if op.path in self.names:
                self._named("unlink" if isinstance(op, Unlink) else "rmdir", op.path)
        elif isinstance(op, Rename):
            if op.source in self.names and op.source != op.target:
                self._named("rename", op.source, op.target, self.names[op.source])
        elif isinstance(op, Sync):
            if op.path == "" or (not op.deleted and self.names.get(op.path) == _DIR):
                self._names_durable([name for name in self.pending if name.directory == op.path])
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
            self._names_durable(list(self.pending))

    def _names_durable(self, names: list[_Name]) -> None:
        """Make ``names`` durable, in log order; each takes with it the earlier pending
        operation that made the name it acts on (a rename cannot outlive its source's creation)."""
        for op in names:
            if op not in self.pending:
                continue  # already made durable as another one's cause
            causes = [n for n in self.pending if n.seq < op.seq and n.result == op.path and op.kind == "rename"]
            if causes:
                self._names_durable(causes[-1:])
            self.pending.remove(op)
            _apply_name(self.durable_names, op)

    def _reachable(self) -> dict[str, int]:
        """The durable names whose every parent directory's own entry is durable too."""
        names = self.durable_names
        return {path: number for path, number in names.items()
                if all(names.get(parent) == _DIR for parent in _ancestors(path))}

    def image(self, mode: str, point: int, points: int, seed: int, directory: Path, sync: str) -> Image:
        lost: list[str] = []
        names = self._reachable() if mode == MODE_DROP else self.names
        unsynced_names = len(self.pending)
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


__all__ = ["MODES", "MODE_DROP", "MODE_KEEP", "MODE_TEAR", "SECTOR", "Image", "images", "start_files"]
