"""Which framework wrote a migration directory, for ``format = "auto"`` and ``harness migrations``.

First the layout: a journal, a sum file or one folder per migration belongs to one format
alone (``Format.owns``). Then every ``.sql`` file's name and markers (``Format.claims``): the
directory's format is the one every file allows. Names alone cannot tell some apart
(``V1__x.sql``: refinery or Flyway; ``1_x.up.sql``: golang-migrate or sqlx; ``1_x.sql``:
plain or sqlx), so the repository around the directory (the directory and up to
``PARENTS`` folders above it, stopping at the repository's root) settles it: a dependency
on the framework in ``Cargo.toml`` / ``Cargo.lock``, ``go.mod`` / ``go.sum``,
``package.json`` or a lock file, or the framework's own config file (``flyway.conf``,
``diesel.toml``, ``atlas.hcl``, ``drizzle.config.ts``, ``prisma/schema.prisma`` ...); then the
ecosystem alone (a ``Cargo.toml`` means a Rust framework, a ``go.mod`` a Go one, a JVM build
or Flyway's ``src/main/resources/db/migration`` layout Flyway).

``detect`` refuses what is still ambiguous. ``choose`` never refuses a directory a
supported framework could apply: it takes the documented default of the tie, which applies
the files in the same order (``DEFAULTS``), and says in a note which it chose and how to
override it. Numbered files no framework's pattern takes (``V0001.Name.up.sql``,
``0001.name.sql``) are the generic ``numbered`` format's.

The driver's foreign-key default (``foreign_keys``) follows the same evidence: the value the
framework's usual SQLite driver starts with (frameworks-more facts: rusqlite and
better-sqlite3 bundle SQLite built with ``SQLITE_DEFAULT_FOREIGN_KEYS=1``, sqlx switches them
on, mattn/go-sqlite3 leaves SQLite's default, off), only where the repository shows it.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from harness.engines.formats.base import Format
from harness.errors import InputError

PARENTS = 4
#: The format taken when the names fit several and nothing around the directory says which:
#: each applies the files in the same (numeric) order.
DEFAULTS: dict[frozenset[str], str] = {
    frozenset({"flyway", "refinery"}): "flyway",  # the V<n>__ convention is Flyway's; refinery copied it
    frozenset({"golang-migrate", "sqlx"}): "golang-migrate",  # .up.sql/.down.sql pairs: golang-migrate's
}
#: Project files that say which ecosystem, hence which frameworks, a directory belongs to.
#: Used only to break a tie the file names leave (refinery or Flyway, sqlx or golang-migrate).
PROJECT_MARKERS: dict[str, frozenset[str]] = {
    "Cargo.toml": frozenset({"refinery", "sqlx"}),
    "go.mod": frozenset({"golang-migrate", "goose"}),
    **{name: frozenset({"flyway"}) for name in ("pom.xml", "build.gradle", "build.gradle.kts", "build.sbt",
                                                 "flyway.conf", "flyway.toml")},
}
#: Framework config files: their presence names the framework.
CONFIG_FILES: dict[str, str] = {
    "flyway.conf": "flyway", "flyway.toml": "flyway", "diesel.toml": "diesel", "atlas.hcl": "atlas",
    "drizzle.config.ts": "drizzle", "drizzle.config.js": "drizzle", "drizzle.config.mjs": "drizzle",
    "prisma/schema.prisma": "prisma", "prisma.config.ts": "prisma", ".sqlx": "sqlx",
}
#: Dependencies that name a framework, per manifest kind.
CARGO_DEPS = {"refinery": "refinery", "refinery_core": "refinery", "sqlx": "sqlx", "diesel_migrations": "diesel",
              "diesel": "diesel"}
GO_MODULES = {"github.com/golang-migrate/migrate": "golang-migrate", "github.com/pressly/goose": "goose",
              "github.com/amacneil/dbmate": "dbmate", "ariga.io/atlas": "atlas"}
NPM_PACKAGES = {"dbmate": "dbmate", "drizzle-kit": "drizzle", "drizzle-orm": "drizzle", "prisma": "prisma",
                "@prisma/client": "prisma"}


@dataclass(frozen=True)
class Choice:
    format: str
    note: str | None = None  # how a tie was settled and how to override it


@dataclass(frozen=True)
class Repository:
    """What the folders around a migration directory say about the project."""

    frameworks: Mapping[str, str]  # framework -> the evidence ("Cargo.toml depends on refinery")
    drivers: Mapping[str, str]  # driver -> evidence ("rusqlite (bundled)", "better-sqlite3" ...)
    marker: Path | None  # the nearest ecosystem file (Cargo.toml, go.mod, pom.xml ...)
    jvm_layout: bool


def detect(directory: Path, registry: Mapping[str, Format]) -> str:
    """The one format the directory can be; an ``InputError`` when it cannot be told."""
    found = _decide(directory, registry)
    if isinstance(found, Choice):
        return found.format
    common, repository = found
    seen = f" ({repository.marker} does not settle it)" if repository.marker is not None else ""
    raise InputError(directory, f"cannot tell the migration format from the file names: it could be "
                                f"{' or '.join(sorted(common))}{seen}; set format to one of them", key="engine.format")


def choose(directory: Path, registry: Mapping[str, Format]) -> Choice:
    """As ``detect``, but a tie nothing settles takes its documented default, with a note."""
    found = _decide(directory, registry)
    if isinstance(found, Choice):
        return found
    common, _ = found
    chosen = DEFAULTS.get(frozenset(common)) or next(name for name in registry if name in common)
    return Choice(chosen, f"the file names fit {' or '.join(sorted(common))} and nothing in the repository around "
                          f"{directory.name}/ says which (no Cargo.toml, go.mod, package.json or framework config "
                          f"naming one): applying them as {chosen}, which runs them in the same order; "
                          f"{_override(common, chosen)}")


def _override(common: set[str] | frozenset[str], chosen: str) -> str:
    others = sorted(set(common) - {chosen})
    return f"override with --format {others[0]} (format = \"{others[0]}\" in a scenario)" if others else \
        "override with --format"


def _decide(directory: Path, registry: Mapping[str, Format]) -> Choice | tuple[frozenset[str], Repository]:
    if not directory.is_dir():
        raise InputError(directory, "no such directory", key="engine.directory")
    owners = [name for name, fmt in registry.items() if fmt.owns(directory)]
    if len(owners) == 1:  # a journal, a sum file, one folder per migration: no name can say otherwise
        return Choice(owners[0])
    if owners:
        raise InputError(directory, f"the directory's layout fits {' and '.join(owners)}; set format to one of them",
                         key="engine.format")
    regular = {name: fmt for name, fmt in registry.items() if not fmt.fallback}
    fallback = [name for name, fmt in registry.items() if fmt.fallback]
    per_file: dict[str, frozenset[str]] = {}
    unclaimed: list[str] = []
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        if path.name.lower().endswith(".sql.conf"):
            per_file[path.name] = frozenset({"flyway"})
            continue
        if not path.name.lower().endswith(".sql"):
            continue
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError as exc:
            raise InputError(path, f"cannot be read ({exc.strerror or exc})") from None
        candidates = frozenset(name for name, fmt in regular.items() if fmt.claims(path.name, text))
        if candidates:
            per_file[path.name] = candidates
        else:
            unclaimed.append(path.name)
    for name in fallback:  # numbered names no framework takes, and every other file numbered too
        fmt = registry[name]
        mine = [n for n in unclaimed if fmt.recognise(n) is not None]
        if mine and all(fmt.recognise(n) is not None for n in per_file):
            return Choice(name, f"{', '.join(mine[:3])}{' ...' if len(mine) > 3 else ''}: numbered names that no "
                                f"framework's pattern takes; applying the directory as '{name}' (numeric order, "
                                f"each file in a transaction unless it manages its own); override with --format")
    if not per_file:
        return Choice("plain")
    common = frozenset.intersection(*per_file.values())
    if not common:
        groups: dict[frozenset[str], list[str]] = {}
        for name, candidates in per_file.items():
            groups.setdefault(candidates, []).append(name)
        described = "; ".join(f"{', '.join(names[:3])}{' ...' if len(names) > 3 else ''}: "
                              f"{' or '.join(sorted(c))}" for c, names in groups.items())
        raise InputError(directory, f"migration files of different formats, candidates per file: {described}; "
                                    f"set format to one of: {', '.join(regular)}", key="engine.format")
    if len(common) == 1:
        return Choice(next(iter(common)))
    repository = survey(directory)
    named = {fw: why for fw, why in repository.frameworks.items() if fw in common}
    if len(named) == 1:
        chosen, why = next(iter(named.items()))
        return Choice(chosen, f"the file names fit {' or '.join(sorted(common))}; {why}: applying them as "
                              f"{chosen}; {_override(common, chosen)}")
    marker = repository.marker
    if common <= {"plain", "sqlx"}:
        rust = marker is not None and marker.name == "Cargo.toml" and "sqlx" in common
        return Choice("sqlx" if rust else "plain")
    if marker is not None:
        narrowed = common & PROJECT_MARKERS[marker.name]
        if len(narrowed) == 1:
            chosen = next(iter(narrowed))
            return Choice(chosen, f"the file names fit {' or '.join(sorted(common))}; {marker} makes it a "
                                  f"{_ecosystem(marker.name)} project: applying them as {chosen}; "
                                  f"{_override(common, chosen)}")
    if "flyway" in common and repository.jvm_layout:
        return Choice("flyway", f"the file names fit {' or '.join(sorted(common))}; the directory is in "
                                f"src/main/resources (Flyway's default location): applying them as flyway; "
                                f"{_override(common, 'flyway')}")
    return common, repository


def _ecosystem(marker: str) -> str:
    return {"Cargo.toml": "Rust", "go.mod": "Go"}.get(marker, "JVM")


# -- the repository around the directory ----------------------------------------------------------


def folders(directory: Path) -> list[Path]:
    """The directory and up to ``PARENTS`` folders above it, stopping at the repository's root."""
    found = []
    for folder in (directory.resolve(), *directory.resolve().parents):
        found.append(folder)
        if (folder / ".git").exists() or len(found) > PARENTS:
            break
    return found


def survey(directory: Path) -> Repository:
    frameworks: dict[str, str] = {}
    drivers: dict[str, str] = {}
    marker: Path | None = None
    for folder in folders(directory):
        if marker is None:
            marker = next((folder / n for n in PROJECT_MARKERS if (folder / n).is_file()), None)
        for name, framework in CONFIG_FILES.items():
            if (folder / name).exists():
                frameworks.setdefault(framework, f"{folder / name} is {framework}'s configuration")
        _cargo(folder, frameworks, drivers)
        _go(folder, frameworks, drivers)
        _npm(folder, frameworks, drivers)
    return Repository(frameworks, drivers, marker, _jvm_resources(directory))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    except OSError:
        return ""


def _cargo(folder: Path, frameworks: dict[str, str], drivers: dict[str, str]) -> None:
    text = _read(folder / "Cargo.toml")
    if text:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            data = {}
        for table, deps in _dependency_tables(data):
            for dep, spec in deps.items():
                if dep in CARGO_DEPS:
                    frameworks.setdefault(CARGO_DEPS[dep], f"{folder / 'Cargo.toml'} depends on {dep}")
                features = spec.get("features", []) if isinstance(spec, dict) else []
                if dep in ("rusqlite", "diesel"):
                    drivers.setdefault(dep, f"{folder / 'Cargo.toml'} depends on {dep}")
                if dep in ("rusqlite", "libsqlite3-sys") and "bundled" in features or \
                        dep == "diesel" and "sqlite-bundled" in features:
                    drivers.setdefault("bundled", f"{folder / 'Cargo.toml'} builds SQLite bundled ({dep})")
    lock = _read(folder / "Cargo.lock")
    for dep in ("refinery", "sqlx", "diesel_migrations"):
        if f'name = "{dep}"' in lock:
            frameworks.setdefault(CARGO_DEPS[dep], f"{folder / 'Cargo.lock'} locks {dep}")


def _dependency_tables(data: Mapping[str, object]) -> list[tuple[str, Mapping[str, object]]]:
    found: list[tuple[str, Mapping[str, object]]] = []
    for key, value in data.items():
        if not isinstance(value, dict):
            continue
        if key.endswith("dependencies"):
            found.append((key, value))
        else:
            found += _dependency_tables(value)
    return found


def _go(folder: Path, frameworks: dict[str, str], drivers: dict[str, str]) -> None:
    for name in ("go.mod", "go.sum"):
        text = _read(folder / name)
        for module, framework in GO_MODULES.items():
            if module in text:
                frameworks.setdefault(framework, f"{folder / name} requires {module}")
        if "github.com/mattn/go-sqlite3" in text:
            drivers.setdefault("mattn", f"{folder / name} requires github.com/mattn/go-sqlite3")


def _npm(folder: Path, frameworks: dict[str, str], drivers: dict[str, str]) -> None:
    text = _read(folder / "package.json")
    if text:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = {}
        deps: dict[str, object] = {}
        for key in ("dependencies", "devDependencies", "optionalDependencies"):
            if isinstance(data, dict) and isinstance(data.get(key), dict):
                deps.update(data[key])
        for package, framework in NPM_PACKAGES.items():
            if package in deps:
                frameworks.setdefault(framework, f"{folder / 'package.json'} depends on {package}")
        for driver in ("better-sqlite3", "@libsql/client"):
            if driver in deps:
                drivers.setdefault(driver, f"{folder / 'package.json'} depends on {driver}")
    for lock in ("package-lock.json", "pnpm-lock.yaml", "yarn.lock"):
        text = _read(folder / lock)
        for package, framework in NPM_PACKAGES.items():
            if re.search(rf"(?m)[\"'/ ]{re.escape(package)}[\"'@:]", text):
                frameworks.setdefault(framework, f"{folder / lock} locks {package}")


def _jvm_resources(directory: Path) -> bool:
    """``…/src/main/resources/…/migration``: where Flyway looks by default (``db/migration``)."""
    parts = [p.lower() for p in directory.resolve().parts]
    for i in range(len(parts) - 2):
        if parts[i:i + 3] == ["src", "main", "resources"]:
            return any(p in ("migration", "migrations") for p in parts[i + 3:])
    return False


# -- the driver's foreign keys ------------------------------------------------------------------


def foreign_keys(fmt: str, directory: Path) -> tuple[bool | None, str]:
    """The foreign-key setting the framework's usual driver starts with, where the repository
    shows that driver (None: it does not; the caller keeps its own default), and why."""
    repository = survey(directory)
    drivers = repository.drivers
    if fmt == "prisma":
        return True, "Prisma's schema engine uses rusqlite with its bundled SQLite, built with foreign keys on"
    if fmt == "sqlx":
        return True, "sqlx's SQLite connect options switch foreign_keys on by default"
    if fmt == "drizzle":
        if "better-sqlite3" in drivers:
            return True, f"{drivers['better-sqlite3']}, whose bundled SQLite is built with foreign keys on"
        return None, "the repository does not show Drizzle's driver"
    if fmt == "diesel":
        if "bundled" in drivers:
            return True, f"{drivers['bundled']}, built with foreign keys on; Diesel sets no PRAGMA"
        if "diesel" in drivers:
            return False, f"{drivers['diesel']} on the system SQLite, which starts with foreign keys off; " \
                          f"Diesel sets no PRAGMA"
        return None, "the repository does not show Diesel's SQLite build"
    if fmt in ("atlas", "dbmate") and fmt in repository.frameworks:
        return False, f"{repository.frameworks[fmt]}; {fmt} opens SQLite through mattn/go-sqlite3, which leaves " \
                      f"foreign keys off unless the URL asks (_fk=1)"
    if fmt in ("golang-migrate", "goose") and "mattn" in drivers:
        return False, f"{drivers['mattn']}, which leaves foreign keys off unless the URL asks (_fk=1)"
    if fmt == "refinery" and "rusqlite" in drivers:
        if "bundled" in drivers:
            return True, f"{drivers['bundled']}, built with foreign keys on"
        return False, f"{drivers['rusqlite']} on the system SQLite, which starts with foreign keys off"
    return None, "the repository does not show the driver"
