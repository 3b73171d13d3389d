"""Byte-level facts about files: digests, trees of digests, isolated copies, atomic writes.

These are how the harness proves "never modify an input", "nothing deleted" and
"quarantined byte-identical" without trusting an engine's word.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Mapping

from harness.sqlite.fileformat import SIDECARS

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def db_files(db: Path) -> tuple[Path, ...]:
    """The database and every sidecar of it that exists."""
    names = [db] + [db.with_name(db.name + s) for s in SIDECARS]
    return tuple(p for p in names if p.is_file())


def db_digest(db: Path) -> dict[str, str]:
    """File name -> sha256 for the database and its sidecars (absent files are absent)."""
    return {p.name: sha256_file(p) for p in db_files(db)}


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every regular file below ``root`` (sorted, streamed)."""
    out: dict[str, str] = {}
    if not root.exists():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                out[path.relative_to(root).as_posix()] = sha256_file(path)
    return out


def copy_db(source: Path, dest: Path, *, sidecars: bool = True) -> Path:
    """Copy a database (and its sidecars) byte for byte, streamed; returns ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest)
    if sidecars:
        for suffix in SIDECARS:
            side = source.with_name(source.name + suffix)
            if side.is_file():
                shutil.copyfile(side, dest.with_name(dest.name + suffix))
    return dest


def missing_digests(before: Mapping[str, str], after_trees: Iterable[Mapping[str, str]]) -> list[str]:
    """Names in ``before`` whose exact bytes appear nowhere in ``after_trees`` (i.e. lost)."""
    present = {digest for tree in after_trees for digest in tree.values()}
    return sorted(name for name, digest in before.items() if digest not in present)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``: a reader (or a
    run killed half-way) sees the old file or the new one, never a torn one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
