"""``harness migrations DIR``: try the matrix on a migration directory with no set-up at all.

For a team's existing migrations: build a legacy database at every intermediate version
(the first k migrations, then data generated from the schema), write a scenario that gates
the directory with the sqlfiles adapter, and run the matrix's upgrade checks (upgrade,
schema convergence, path equivalence, data preservation, integrity, idempotency,
continuity) plus the lint pass as warnings. The generated files stay in a work directory
so a failure can be reproduced with ``harness gate`` on the written scenario.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from harness.engines.formats import HistorySpec, history_spec
from harness.engines.formats import detection
from harness.engines.formats.history import parse_declaration
from harness.engines.sqlfile_formats import resolve
from harness.engines.loader import load_engine
from harness.errors import InputError
from harness.fixtures import build
from harness.fixtures.recipe import Legacy, Recipe
from harness.engines.alembic import HISTORY_TABLE
from harness.runner import released as released_mod
from harness.scenario import DEFAULT_TIMEOUT, EngineSpec

DOWN_NOTE = "a down migration, not run by migrate"
UPGRADE_CHECKS = ("upgrades", "schema-converges", "path-equivalent", "data-preserved", "integrity", "idempotent",
                  "history-continuous")
#: Where a real tool runs the migrations: killed after each commit of a fresh install, and failing part-way.
INSTALL_CHECKS = ("migrates-to-head", "crash-atomic")
ATOMIC_CHECKS = ("atomic-on-failure",)


@dataclass(frozen=True)
class Prepared:
    scenario: Path
    versions: tuple[int, ...]
    workdir: Path


def prepare(directory: Path, *, fmt: str = "auto", setup: str | None = None, seed: int = 0, rows: int = 20,
            workdir: Path | None = None, log: Callable[[str], None] = print, foreign_keys: bool | None = None,
            released: Sequence[str] | None = None, released_from_git: bool = False,
            history: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> Prepared:
    """Fixtures for every released intermediate version and a scenario gating ``directory``.

    ``foreign_keys``: migrate with foreign keys ON or OFF; None: as the framework's driver
    starts where the repository shows it, else ON (as most applications open them).
    ``released`` / ``released_from_git``: the versions users can hold (see
    ``harness.runner.released``); default every version. ``workdir`` is kept: the written
    scenario and fixtures are what the reports' repro commands run.
    ``history``: ``--history``, a preset's name or ``table=…,version=…`` (see ``history_option``).
    """
    if not directory.is_dir():
        raise InputError(directory, "is not a directory of migration files")
    anchor = Path.cwd() / "harness-migrations.toml"  # relative setup paths resolve from the current directory
    foreign_keys, why = _foreign_keys(directory, fmt, foreign_keys)
    spec = engine_spec(directory.resolve(), fmt, setup, foreign_keys, anchor, history_option(history))
    spec = dataclasses.replace(spec, timeout=timeout)
    engine = load_engine(spec, anchor)
    migrations = tuple(engine.migrations())
    if not migrations:
        raise InputError(directory, "holds no migration files this format recognises")
    held = None
    if released is not None:
        held = set(released_mod.check_known(released, migrations, "--released"))
    if released_from_git:
        held = (held or set()) | set(released_mod.from_git(directory, migrations))
    work = workdir or Path(tempfile.mkdtemp(prefix="harness-migrations-"))
    work.mkdir(parents=True, exist_ok=True)
    legacy = tuple(Legacy(name=f"v{m.version}", version=m.version, tags=("legacy",),
                          description=f"the first {i + 1} migrations ({m.name}) and generated data")
                   for i, m in enumerate(migrations[:-1]) if held is None or str(m.version) in held)
    recipe = Recipe(path=anchor, engine="", seed=seed, rows_per_table=rows,
                    history_table=HISTORY_TABLE if spec.adapter == "alembic"
                    else getattr(engine, "history_table", "schema_migrations"), legacy=legacy)
    setup_callable = getattr(engine, "_setup", None)
    build.build(recipe, work / "fixtures", log=lambda line: None, engine=engine, setup=setup_callable)
    scenario = work / "scenario.toml"
    scenario.write_text(_scenario_text(spec, seed, wrapped=bool(getattr(engine, "wraps", False)),
                                       real_tool=not getattr(engine, "emulated", True)), encoding="utf-8")
    for note in getattr(engine, "notes", ()):
        if not note.endswith(DOWN_NOTE):  # every down file would be a line: not worth one
            log(f"note: {note}")
    if spec.adapter != "alembic":
        log(f"foreign keys: {'ON' if spec.foreign_keys else 'OFF'} ({why}; override with --foreign-keys "
            f"{'off' if spec.foreign_keys else 'on'})")
    kind = f"run by {spec.adapter}" if spec.adapter != "sqlfiles" else f"{getattr(engine, 'format', fmt)} format"
    log(f"{len(migrations)} migrations ({kind}); built {len(legacy)} legacy databases in {work}")
    return Prepared(scenario, tuple(m.version for m in migrations), work)


def _foreign_keys(directory: Path, fmt: str, given: bool | None) -> tuple[bool, str]:
    """The setting to migrate with, and why: as given, else the framework driver's default
    where the repository shows the driver, else ON."""
    if given is not None:
        return given, "--foreign-keys"
    if fmt == "alembic" or (fmt == "auto" and (directory / "alembic.ini").is_file()):
        return True, "alembic runs the migrations on its own connection"
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


def engine_spec(directory: Path, fmt: str, setup: str | None, foreign_keys: bool, anchor: Path,
                history: HistorySpec = None) -> EngineSpec:
    """How to run ``directory``: the real tool where the harness has an adapter for it and can
    run it (an alembic project; dbmate files with the binary at hand), else the sqlfiles
    adapter's emulation of the format."""
    config = directory / "alembic.ini"
    if fmt == "alembic" or (fmt == "auto" and config.is_file()):
        if not config.is_file():
            raise InputError(directory, "holds no alembic.ini", key="--format")
        return EngineSpec("alembic", None, alembic_config=config)
    if fmt in ("auto", "dbmate"):
        from harness.engines.dbmate import find_binary
        from harness.engines.sqlfile_formats import resolve_format

        if (fmt == "dbmate" or resolve_format(fmt, directory) == "dbmate") and find_binary(None, Path.cwd()):
            return EngineSpec("dbmate", None, directory=directory, format="dbmate", setup=setup,
                              foreign_keys=foreign_keys, binary=find_binary(None, Path.cwd()), history=history)
    return EngineSpec("sqlfiles", None, directory=directory, format=fmt, setup=setup, foreign_keys=foreign_keys,
                      history=history)


def _scenario_text(spec: EngineSpec, seed: int, *, wrapped: bool = False, real_tool: bool = False) -> str:
    """``real_tool``: the tool itself runs the migrations, so whether they are atomic is its
    doing and is checked too (the emulation wraps as the format says, by construction)."""
    q = json.dumps  # TOML basic strings accept JSON string escapes
    lines = ["# Written by `harness migrations`: rerun with `harness gate` on this file.",
             "[suite]", 'name = "migrations"', f"seed = {seed}", "", "[engine]", f"adapter = {q(spec.adapter)}"]
    if spec.adapter == "alembic":
        lines.append(f"alembic_config = {q(str(spec.alembic_config))}")
    else:
        lines += [f"directory = {q(str(spec.directory))}",
                  f"foreign_keys = {'true' if spec.foreign_keys else 'false'}", *_history_toml(spec.history)]
    if spec.adapter != "alembic":
        lines.append(f"timeout = {spec.timeout!r}")
    if spec.adapter == "sqlfiles":
        lines.append(f"format = {q(spec.format)}")
    if spec.binary:
        lines.append(f"binary = {q(spec.binary)}")
    if spec.setup:
        setup = spec.setup
        path, _, attr = setup.rpartition(":")
        if path.endswith(".py") and not Path(path).is_absolute():
            setup = f"{(Path.cwd() / path).resolve()}:{attr}"
        lines.append(f"setup = {q(setup)}")
    lines += [
        "", "[fixtures]", 'manifest = "fixtures/manifest.toml"', "",
        *(["[checks.install]", f"only = {q(list(INSTALL_CHECKS))}", ""] if real_tool else []),
        "[checks.matrix]", f"only = {q(list(UPGRADE_CHECKS + (ATOMIC_CHECKS if real_tool else ())))}",
        "params = { declared_mutations = true }", "",
        # wrapped: whether the framework runs each file in a transaction (lint then flags what
        # does nothing or fails inside one, e.g. PRAGMA foreign_keys)
        "[checks.lint]", 'severity = "warn"', f"params = {{ wrapped = {'true' if wrapped else 'false'} }}", "",
    ]
    return "\n".join(lines)
