"""Find the migration files in a directory and read each one's version, name and checksum.

Only the plain format exists so far: ``<integer>_<name>.sql`` (``0001_init.sql``). Files
are ordered by the integer, never by text, so ``2_b.sql`` comes before ``10_c.sql``. Two
files with the same version are an error, as in every framework; files that do not match
are skipped but listed, because a misnamed migration that is silently ignored (Flyway's
default) is exactly the kind of mistake a reviewer should see.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from harness.errors import InputError

#: File-name patterns by format; each has the groups ``version`` and ``name``.
PATTERNS: dict[str, re.Pattern[str]] = {
    "plain": re.compile(r"^(?P<version>\d+)_(?P<name>.+)\.sql$"),
}
FORMATS = tuple(PATTERNS)
AUTO = "auto"


@dataclass(frozen=True)
class MigrationFile:
    version: int
    name: str
    path: Path
    checksum: str  # sha256 hex of the file's bytes: any edit, even of whitespace, shows
    sql: str


@dataclass(frozen=True)
class Discovery:
    files: tuple[MigrationFile, ...]  # in version order
    ignored: tuple[Path, ...]  # files in the directory that are not migrations


def resolve_format(fmt: str, directory: Path) -> str:
    """The concrete format for ``fmt``; ``auto`` is plain while plain is the only one."""
    if fmt == AUTO:
        return "plain"
    if fmt not in PATTERNS:
        raise InputError(directory, f"unknown migration file format '{fmt}'; expected one of: "
                                    f"{', '.join((AUTO, *FORMATS))}", key="engine.format")
    return fmt


def discover(directory: Path, fmt: str = "plain") -> Discovery:
    """Every migration file of format ``fmt`` in ``directory`` (not its subdirectories)."""
    pattern = PATTERNS[resolve_format(fmt, directory)]
    if not directory.is_dir():
        raise InputError(directory, "no such directory", key="engine.directory")
    found: dict[int, MigrationFile] = {}
    ignored: list[Path] = []
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        match = pattern.match(path.name)
        if not match:
            ignored.append(path)
            continue
        migration = _read(path, int(match["version"]), match["name"])
        clash = found.get(migration.version)
        if clash:
            raise InputError(directory, f"duplicate migration version {migration.version}: "
                                        f"{clash.path.name} and {path.name}", key="engine.directory")
        found[migration.version] = migration
    return Discovery(tuple(found[v] for v in sorted(found)), tuple(ignored))


def _read(path: Path, version: int, name: str) -> MigrationFile:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        sql = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"is not UTF-8 text (byte {exc.start})") from None
    return MigrationFile(version, name, path, hashlib.sha256(raw).hexdigest(), sql)
