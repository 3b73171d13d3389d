"""Environment faults found before any case runs: one line, exit 2, the path and what to do.

A reports directory that cannot be written (or is full), a fixture cache or work directory
that cannot be written, a ``--junit`` path that cannot be created, a fixture file that is
missing or altered: each would otherwise surface late, as the same traceback in every case
or as a run whose reports cannot be written. Checking costs a probe file per directory and a
hash per fixture.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable

from harness.errors import HarnessError, InputError
from harness.fixtures.manifest import Manifest, verify_file

MIN_FREE_BYTES = 1024 * 1024  # less than this left: reports and case files cannot be written


class EnvironmentFault(HarnessError):
    """The machine, not the input: a directory that cannot be written, a disk that is full."""


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EROFS,):
        return "it is on a read-only file system"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return "a part of the path is a file, not a directory"
    return exc.strerror or str(exc)


def writable_dir(path: Path, what: str, remedy: str, *, need_free: int = MIN_FREE_BYTES) -> Path:
    """Create ``path`` if needed and prove a file can be written in it; else ``EnvironmentFault``."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".harness-probe-", delete=True)
        with probe:
            probe.write(b"\0" * 4096)
            probe.flush()
            os.fsync(probe.fileno())
        free = shutil.disk_usage(path).free
    except OSError as exc:
        raise EnvironmentFault(f"{path}: cannot write the {what} ({_reason(exc)}); {remedy}") from None
    if free < need_free:
        raise EnvironmentFault(f"{path}: cannot write the {what} (the disk is full: {free} bytes free); {remedy}")
    return path


def writable_file(path: Path, what: str, remedy: str) -> Path:
    """``path``'s directory can take a new file and ``path`` is not a directory."""
    if path.is_dir():
        raise EnvironmentFault(f"{path}: cannot write the {what} (it is a directory); {remedy}")
    writable_dir(path.parent if str(path.parent) else Path("."), what, remedy)
    return path


def fixtures_intact(manifest: Manifest, names: Iterable[str] | None = None) -> None:
    """Every fixture (or those named) exists and hashes to what the manifest says."""
    wanted = set(names) if names is not None else None
    for fixture in manifest.fixtures:
        if wanted is None or fixture.name in wanted:
            verify_file(fixture, manifest.path)


def report_write_error(exc: OSError, reports: Path) -> InputError:
    """An ``OSError`` met while writing reports, as the one line the user acts on."""
    where = exc.filename or reports
    return InputError(where, f"cannot write the reports ({_reason(exc)}); free space or choose another --reports "
                      "directory")
