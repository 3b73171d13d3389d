"""Released versions: the schema versions users can really hold.

A legacy database exists only for versions that shipped. ``--released 3,5,8`` names them;
``--released-from-git`` reads them from the repository's tags: at each tag, the newest
migration (in the engine's order) whose file was present is what a user of that release
holds. The default is every version, as if each migration had shipped on its own.
"""

from __future__ import annotations

import subprocess
from pathlib import Path, PurePosixPath
from typing import Sequence

from harness.engines.protocol import Migration
from harness.errors import InputError

GIT_TIMEOUT = 60.0


def parse_list(text: str, where: str) -> tuple[str, ...]:
    """``"3, 5,8"`` -> ``("3", "5", "8")``; an empty item is an input error naming ``where``."""
    items = tuple(item.strip() for item in text.split(","))
    if not items or any(not item for item in items):
        raise InputError(where, f"expected versions separated by commas, got {text!r}")
    return items


def check_known(released: Sequence[str], migrations: Sequence[Migration], where: str) -> tuple[str, ...]:
    """``released`` in the engine's order; a version no migration has is an input error."""
    known = [str(m.version) for m in migrations]
    unknown = [v for v in released if v not in known]
    if unknown:
        raise InputError(where, f"'{unknown[0]}' is not a migration version; known: {', '.join(known)}")
    return tuple(v for v in known if v in set(released))


def from_git(directory: Path, migrations: Sequence[Migration], where: str = "--released-from-git") \
        -> tuple[str, ...]:
    """The version a user of each tagged release holds, oldest first, without repeats.

    A tag at which none of today's migration files existed (before the first migration) adds
    nothing. Migration files are matched by their name inside ``directory``.
    """
    top = _git(directory, "rev-parse", "--show-toplevel", where=where).strip()
    if not top:
        raise InputError(directory, "is not inside a git repository", key=where)
    inside = PurePosixPath(Path(directory).resolve().relative_to(Path(top).resolve()).as_posix())
    tags = _git(directory, "tag", "--list", "--sort=creatordate", where=where).split()
    if not tags:
        raise InputError(directory, "the repository has no tags: name the released versions with --released",
                         key=where)
    order = [(str(m.version), PurePosixPath(m.source or "").name) for m in migrations]
    found: list[str] = []
    for tag in tags:
        listing = _git(directory, "ls-tree", "-r", "--name-only", tag, "--", f"{inside}/" if str(inside) != "." else ".",
                       where=where, cwd=Path(top))
        present = {PurePosixPath(line).name for line in listing.splitlines() if line}
        held = [version for version, name in order if name in present]
        if held and held[-1] not in found:
            found.append(held[-1])
    position = {version: i for i, (version, _) in enumerate(order)}
    return tuple(sorted(found, key=position.__getitem__))


def _git(directory: Path, *args: str, where: str, cwd: Path | None = None) -> str:
    try:
        run = subprocess.run(["git", *args], cwd=cwd or directory, capture_output=True, text=True,
                             timeout=GIT_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(directory, f"cannot run git: {exc}", key=where) from None
    if run.returncode != 0:
        detail = (run.stderr.strip().splitlines() or ["failed"])[-1]
        raise InputError(directory, f"git {args[0]}: {detail}", key=where)
    return run.stdout
