"""Find the migration files in a directory and read each one's version, name and checksum.

The formats themselves (file names, order, up SQL, transaction rule, checksum, history
table) live in ``harness.engines.formats``, one module per framework; this module is the
entry point the adapter uses. Files are ordered numerically, never by text, so ``2_b.sql``
comes before ``10_c.sql``. Two files with the same version are an error, as in every
framework; files that do not match are skipped but listed, because a misnamed migration
that is silently ignored (Flyway's default) is exactly the kind of mistake a reviewer
should see.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.engines.formats import AUTO, FORMATS, REGISTRY, Choice, choose, get
from harness.engines.formats import plain as _plain
from harness.engines.formats.base import Discovery, MigrationFile

__all__ = ["AUTO", "FORMATS", "PATTERNS", "Discovery", "MigrationFile", "discover", "resolve", "resolve_format"]

#: The plain format's file-name pattern (groups ``version`` and ``name``); the other formats'
#: patterns are in their modules (``harness.engines.formats.<name>.PATTERN``).
PATTERNS: dict[str, re.Pattern[str]] = {"plain": _plain.PATTERN}


def resolve(fmt: str, directory: Path) -> Choice:
    """The concrete format for ``fmt``: ``auto`` is told from the directory and the repository
    around it, and a tie nothing settles takes its documented default, with a note."""
    if fmt == AUTO:
        return choose(directory)
    return Choice(get(fmt, directory).name)


def resolve_format(fmt: str, directory: Path) -> str:
    return resolve(fmt, directory).format


def discover(directory: Path, fmt: str = "plain") -> Discovery:
    """Every migration file of format ``fmt`` in ``directory`` (not its subdirectories)."""
    return REGISTRY[resolve_format(fmt, directory)].discover(directory)
