"""``harness migrations DIR``: try the matrix on a migration directory with no set-up at all.

For a team's existing migrations: build a legacy database at every intermediate version
(the first k migrations, then data generated from the schema), write a scenario that gates
the directory with the sqlfiles adapter, and run the matrix's upgrade checks (upgrade,
schema convergence, path equivalence, data preservation, integrity, idempotency,
continuity) plus the lint pass as warnings. The generated files stay in a work directory
so a failure can be reproduced with ``harness gate`` on the written scenario.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from harness.engines.formats import HistorySpec, history_spec
from harness.engines.formats import detection
from harness.engines.formats.history import parse_declaration
from harness.engines.sqlfile_formats import resolve
from harness.engines.loader import load_engine
from harness.errors import InputError
from harness.fixtures import build
from harness.fixtures.recipe import Legacy, Recipe
from harness.scenario import EngineSpec

DOWN_NOTE = "a down migration, not run by migrate"
UPGRADE_CHECKS = ("upgrades", "schema-converges", "path-equivalent", "data-preserved", "integrity", "idempotent",
                  "history-continuous")


@dataclass(frozen=True)
class Prepared:
    scenario: Path
    versions: tuple[int, ...]
    workdir: Path


def prepare(directory: Path, *, fmt: str = "auto", setup: str | None = None, seed: int = 0, rows: int = 20,
            workdir: Path | None = None, log: Callable[[str], None] = print, foreign_keys: bool | None = None,
            history: str | None = None) -> Prepared:
    """Fixtures for every intermediate version and a scenario gating ``directory``.

    ``foreign_keys``: migrate with foreign keys ON or OFF; None: as the framework's driver
    starts where the repository shows it, else ON (as most applications open them).
    ``history``: ``--history``, a preset's name or ``table=…,version=…`` (see ``history_option``).
    """
    if not directory.is_dir():
        raise InputError(directory, "is not a directory of migration files")
    foreign_keys, why = _foreign_keys(directory, fmt, foreign_keys)
    spec = EngineSpec("sqlfiles", None, directory=directory.resolve(), format=fmt, setup=setup,
                      foreign_keys=foreign_keys, history=history_option(history))
    anchor = Path.cwd() / "harness-migrations.toml"  # relative setup paths resolve from the current directory
    engine = load_engine(spec, anchor)
    migrations = tuple(engine.migrations())
    if not migrations:
        raise InputError(directory, "holds no migration files this format recognises")
    work = workdir or Path(tempfile.mkdtemp(prefix="harness-migrations-"))
    work.mkdir(parents=True, exist_ok=True)
    legacy = tuple(Legacy(name=f"v{m.version}", version=m.version, tags=("legacy",),
                          description=f"the first {i + 1} migrations ({m.name}) and generated data")
                   for i, m in enumerate(migrations[:-1]))
    recipe = Recipe(path=anchor, engine="", seed=seed, rows_per_table=rows,
                    history_table=getattr(engine, "history_table"), legacy=legacy)
    setup_callable = getattr(engine, "_setup", None)
    build.build(recipe, work / "fixtures", log=lambda line: None, engine=engine, setup=setup_callable)
    scenario = work / "scenario.toml"
    scenario.write_text(_scenario_text(spec, seed, wrapped=bool(getattr(engine, "wraps", False))),
                        encoding="utf-8")
    for note in getattr(engine, "notes", ()):
        if not note.endswith(DOWN_NOTE):  # every down file would be a line: not worth one
            log(f"note: {note}")
    log(f"foreign keys: {'ON' if foreign_keys else 'OFF'} ({why}; override with --foreign-keys "
        f"{'off' if foreign_keys else 'on'})")
    log(f"{len(migrations)} migrations ({getattr(engine, 'format', fmt)} format); built {len(legacy)} legacy "
        f"databases in {work}")
    return Prepared(scenario, tuple(m.version for m in migrations), work)


def _foreign_keys(directory: Path, fmt: str, given: bool | None) -> tuple[bool, str]:
    """The setting to migrate with, and why: as given, else the framework driver's default
    where the repository shows the driver, else ON."""
    if given is not None:
        return given, "--foreign-keys"
    found, why = detection.foreign_keys(resolve(fmt, directory).format, directory)
    if found is None:
        return True, f"the harness's default, as most applications open their database; {why}"
    return found, why


def history_option(text: str | None) -> HistorySpec:
    """``--history``: a preset (``flyway``) or ``table=t,version=v[,name=…][,checksum=…][,applied_at=…]
    [,success=…][,kind=integer|timestamp|text][,preset=…]``; errors name the option (exit 2)."""
    if text is None:
        return None
    try:
        values = parse_declaration(text)
    except ValueError as exc:
        raise InputError("--history", str(exc)) from None
    return history_spec(values, lambda key, problem: InputError("--history", problem, key=key))


def _history_toml(history: HistorySpec) -> list[str]:
    """The ``[engine]`` lines that declare ``history`` in the written scenario."""
    if history is None:
        return []
    if isinstance(history, str):
        return [f"history = {json.dumps(history)}"]
    values = {role: column for role, column in history.columns()}
    values["kind"] = history.kind
    body = ", ".join(f"{key} = {json.dumps(value)}" for key, value in values.items())
    cumulative = ", cumulative = true" if history.cumulative else ""
    return [f"history = {{ table = {json.dumps(history.table)}, {body}{cumulative} }}"]


def _scenario_text(spec: EngineSpec, seed: int, *, wrapped: bool = False) -> str:
    q = json.dumps  # TOML basic strings accept JSON string escapes
    lines = [
        "# Written by `harness migrations`: rerun with `harness gate` on this file.",
        "[suite]", 'name = "migrations"', f"seed = {seed}", "",
        "[engine]", 'adapter = "sqlfiles"', f"directory = {q(str(spec.directory))}", f"format = {q(spec.format)}",
        f"foreign_keys = {'true' if spec.foreign_keys else 'false'}",
        *_history_toml(spec.history),
    ]
    if spec.setup:
        setup = spec.setup
        path, _, attr = setup.rpartition(":")
        if path.endswith(".py") and not Path(path).is_absolute():
            setup = f"{(Path.cwd() / path).resolve()}:{attr}"
        lines.append(f"setup = {q(setup)}")
    lines += [
        "", "[fixtures]", 'manifest = "fixtures/manifest.toml"', "",
        "[checks.matrix]", f"only = {q(list(UPGRADE_CHECKS))}",
        "params = { declared_mutations = true }", "",
        # wrapped: whether the framework runs each file in a transaction (lint then flags what
        # does nothing or fails inside one, e.g. PRAGMA foreign_keys)
        "[checks.lint]", 'severity = "warn"', f"params = {{ wrapped = {'true' if wrapped else 'false'} }}", "",
    ]
    return "\n".join(lines)
