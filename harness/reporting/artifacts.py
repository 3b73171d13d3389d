"""Keep a failing case's evidence beside the reports, within a size budget.

``preserve(case, workdir, dest_root, cap_bytes)`` copies the regular files under the
case's kept working directory (databases, ``-wal`` / ``-shm`` sidecars, backups,
quarantine directories, anything the check left there) byte for byte into
``dest_root/artifacts/<case slug>/``, keeping their relative layout, and writes beside
them:

* ``details.txt``: the case's summary, measured vs threshold and details (the schema / data /
  plan diff), sanitised;
* ``observations.json``: the case's observations;
* ``MANIFEST.txt``: one line per file with its status (``kept`` / ``dropped``), size, sha256
  and relative path, plus anything skipped (symbolic links, special files).

``dest_root`` is the reports directory (where ``report.html`` and ``results.json`` live);
the returned paths are relative to it, POSIX style, ``MANIFEST.txt`` first, ready to go
into ``CaseResult.artifacts``.

The copied files (``details.txt`` and ``observations.json`` included; the manifest itself
excluded) total at most ``cap_bytes``: while they do not fit, the largest file is dropped
(ties: the later path first). Dropped files still get their size and sha256 in the
manifest, so a reproduction can be checked against them. Symbolic links are never followed
and never copied: a workdir must not be able to smuggle ``/etc/passwd`` into a CI artifact.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from harness.reporting.results import CaseResult
from harness.reporting.sanitize import clean, one_line

__all__ = ["preserve", "slug", "ARTIFACTS_DIR", "MANIFEST"]

ARTIFACTS_DIR = "artifacts"
MANIFEST = "MANIFEST.txt"
DETAILS = "details.txt"
OBSERVATIONS = "observations.json"
GENERATED = (DETAILS, OBSERVATIONS)
DETAILS_LIMIT = 1_000_000

_UNSAFE = re.compile(r"[^A-Za-z0-9_.=-]+")


def slug(case_id: str) -> str:
    """A directory name for a case: readable, filesystem-safe, unique (short hash of the id)."""
    text = str(case_id)
    readable = _UNSAFE.sub("-", text).strip("-.")[:80] or "case"
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{readable}-{digest}"


@dataclass(frozen=True)
class _File:
    relative: str  # POSIX, relative to the case's artifact directory
    size: int
    sha256: str
    source: Path | None  # None for a generated file (its bytes are in ``data``)
    data: bytes | None = None


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _generated(name: str, data: bytes) -> _File:
    return _File(name, len(data), hashlib.sha256(data).hexdigest(), None, data)


def _details(case: CaseResult) -> bytes:
    lines = [f"case: {one_line(case.case_id, None)}", f"outcome: {one_line(case.outcome, 50)}",
             f"summary: {one_line(case.summary, None)}"]
    if case.measured is not None or case.threshold is not None:
        lines.append(f"measured: {one_line(case.measured, None)}  threshold: {one_line(case.threshold, None)}")
    lines.append(f"runbook: {one_line(case.runbook_url or case.runbook, None)}")
    lines.append(f"seed: {case.seed}")
    lines.append(f"reproduce: {one_line(case.repro, None)}")
    details = clean(case.details, DETAILS_LIMIT).strip("\n")
    if details:
        lines += ["", details]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _observations(case: CaseResult) -> bytes:
    text = json.dumps(case.observations, indent=1, sort_keys=True, ensure_ascii=True, default=str)
    return (clean(text, DETAILS_LIMIT) + "\n").encode("utf-8")


def _walk(workdir: Path) -> tuple[list[_File], list[str]]:
    """Regular files under ``workdir`` (sorted) and notes on what was skipped."""
    files: list[_File] = []
    skipped: list[str] = []
    for dirpath, dirnames, filenames in os.walk(workdir, followlinks=False):
        base = Path(dirpath)
        for name in list(dirnames):
            if (base / name).is_symlink():
                skipped.append(f"{(base / name).relative_to(workdir).as_posix()}/ (symbolic link, not followed)")
                dirnames.remove(name)
        dirnames.sort()
        for name in sorted(filenames):
            path = base / name
            relative = path.relative_to(workdir).as_posix()
            try:
                info = path.lstat()
            except OSError as exc:
                skipped.append(f"{relative} (unreadable: {exc.strerror or exc})")
                continue
            if stat.S_ISLNK(info.st_mode):
                skipped.append(f"{relative} (symbolic link, not copied)")
                continue
            if not stat.S_ISREG(info.st_mode):
                skipped.append(f"{relative} (not a regular file)")
                continue
            try:
                digest = _sha256_file(path)
            except OSError as exc:
                skipped.append(f"{relative} (unreadable: {exc.strerror or exc})")
                continue
            files.append(_File(relative, info.st_size, digest, path))
    return files, skipped


def _choose(files: list[_File], cap_bytes: int) -> tuple[list[_File], list[_File]]:
    """Drop the largest files until the rest fit in ``cap_bytes``."""
    kept = sorted(files, key=lambda f: (f.size, f.relative))
    dropped: list[_File] = []
    total = sum(f.size for f in kept)
    while kept and total > cap_bytes:
        largest = kept.pop()
        dropped.append(largest)
        total -= largest.size
    return kept, dropped


def _manifest(case: CaseResult, workdir: Path, cap_bytes: int, kept: list[_File], dropped: list[_File],
              skipped: list[str], note: str) -> bytes:
    total = sum(f.size for f in kept)
    lines = [
        f"# artifacts of {one_line(case.case_id, None)}",
        f"# from {one_line(str(workdir), None)}",
        f"# cap {cap_bytes} bytes; kept {len(kept)} files, {total} bytes; dropped {len(dropped)} files "
        f"(largest first), {sum(f.size for f in dropped)} bytes",
    ]
    if note:
        lines.append(f"# {note}")
    lines.append("# status  bytes  sha256  path")
    for status, group in (("kept", kept), ("dropped", dropped)):
        for f in sorted(group, key=lambda f: f.relative):
            lines.append(f"{status}  {f.size}  {f.sha256}  {one_line(f.relative, None)}")
    lines += [f"skipped  {one_line(s, None)}" for s in skipped]
    return ("\n".join(lines) + "\n").encode("utf-8")


def preserve(case: CaseResult, workdir: Path, dest_root: Path, cap_bytes: int) -> tuple[str, ...]:
    """Copy ``case``'s evidence from ``workdir`` to ``dest_root/artifacts/<slug>/``.

    Returns the kept files' paths relative to ``dest_root`` (``MANIFEST.txt`` first). A
    missing ``workdir`` still yields the manifest (saying so), ``details.txt`` and
    ``observations.json``. An existing directory for the same case is replaced.
    """
    if cap_bytes < 0:
        raise ValueError(f"cap_bytes must be >= 0, not {cap_bytes}")
    workdir = Path(workdir)
    dest_root = Path(dest_root)
    relative_dir = Path(ARTIFACTS_DIR, slug(case.case_id))
    target = dest_root / relative_dir

    note = ""
    if workdir.is_dir() and not workdir.is_symlink():
        files, skipped = _walk(workdir)
    else:
        files, skipped = [], []
        note = f"the working directory {one_line(str(workdir), None)} is missing: only the case's own text is kept"
    taken = {f.relative for f in files}
    generated = []
    for name, data in ((DETAILS, _details(case)), (OBSERVATIONS, _observations(case))):
        while name in taken or name == MANIFEST:  # the workdir has a file of that name
            name = "_" + name
        generated.append(_generated(name, data))
    if MANIFEST in taken:  # keep the workdir's own MANIFEST.txt under another name
        files = [f if f.relative != MANIFEST else _File("_" + MANIFEST, f.size, f.sha256, f.source) for f in files]
    kept, dropped = _choose(files + generated, cap_bytes)

    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for f in kept:
        destination = target / f.relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if f.data is not None:
            destination.write_bytes(f.data)
        else:
            assert f.source is not None
            shutil.copyfile(f.source, destination, follow_symlinks=False)
    (target / MANIFEST).write_bytes(_manifest(case, workdir, cap_bytes, kept, dropped, skipped, note))
    paths = [relative_dir / MANIFEST] + [relative_dir / f.relative for f in sorted(kept, key=lambda f: f.relative)]
    return tuple(p.as_posix() for p in paths)
