"""Where a matrix case's time goes, measured in this process, component by component.

Process-level timings (``run.py``) include interpreter start-up and whatever else the machine
is doing; this replays what one case of each matrix check does, with the harness's own
functions (``copy_db``, the sqlfiles engine, ``inspect.observe``, ``state_of``,
``schema.read_file``), next to the floor's steps, and keeps the median over fixtures and
repeats. Both CPU and wall milliseconds per case. It is the profile the README quotes.

What it does not see: pytest's and the plugin's per-item work (collection, hooks, the result
record, JUnit/HTML), which ``run.py`` measures as the difference between whole runs.
"""

from __future__ import annotations

import shutil
import sqlite3
import statistics
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Callable

from bench import floor as floor_mod
from harness.engines.sqlfiles import SqlFilesEngine
from harness.sqlite import inspect, schema
from harness.sqlite.fileformat import read_header
from harness.sqlite.files import copy_db, db_digest
from harness.checks.states import state_of


class _Clock:
    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    def __call__(self, name: str, fn: Callable[[], object]) -> object:
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        self.wall.setdefault(name, []).append(time.perf_counter() - w)
        self.cpu.setdefault(name, []).append(time.process_time() - c)
        return out

    def medians(self) -> dict[str, dict[str, float]]:
        return {k: {"cpu_ms": round(statistics.median(self.cpu[k]) * 1000, 3),
                    "wall_ms": round(statistics.median(self.wall[k]) * 1000, 3)} for k in self.wall}


def measure(migrations: Path, fixtures: list[Path], work: Path, *, repeats: int = 2) -> dict[str, object]:
    """Per-case milliseconds of each step, for the harness's checks and the floor."""
    engine = SqlFilesEngine(migrations, "plain")
    floor_migrations = floor_mod.load_migrations(migrations)
    t = _Clock()
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-breakdown-", dir=work) as scratch_text:
        scratch = Path(scratch_text)
        for _ in range(repeats):
            for source in fixtures:
                case = scratch / "case"
                # --- the floor, step by step (as floor.check_one) ---
                fdb = scratch / "floor.sqlite3"
                t("floor: copy", lambda: shutil.copyfile(source, fdb))
                t("floor: migrate", lambda: _floor_migrate(fdb, floor_migrations))
                t("floor: integrity + fk + schema", lambda: _floor_checks(fdb))
                t("floor: delete", lambda: fdb.unlink())
                # --- one `integrity` case: upgrade() then observe() ---
                t("case dir", lambda: (case / "data").mkdir(parents=True))
                db = case / "data" / "app.sqlite3"
                t("copy", lambda: copy_db(source, db))
                outcome = t("migrate (sqlfiles engine)", lambda: engine.migrate(db))
                assert outcome.ok, outcome  # type: ignore[attr-defined]
                t("integrity: observe (integrity + fk)",
                  lambda: inspect.observe(db, with_content=False, with_files=False))
                # --- what the other matrix checks add on the same upgraded file ---
                t("idempotent: sha256 of the files", lambda: db_digest(db))
                t("idempotent: header", lambda: read_header(db))
                t("idempotent: copy kept at head", lambda: copy_db(db, case / "at-head" / "app.sqlite3"))
                t("idempotent: migrate again (nothing pending)", lambda: engine.migrate(db))
                t(STATE, lambda: state_of(db, None))
                fresh = case / "fresh" / "app.sqlite3"
                fresh.parent.mkdir()
                t("schema-converges: fresh install", lambda: engine.migrate(fresh))
                t("schema-converges: read both schemas + diff",
                  lambda: schema.diff(schema.read_file(fresh), schema.read_file(db)))
                t("rmtree case dir", lambda: shutil.rmtree(case))
    steps = t.medians()
    return {"fixtures": len(fixtures), "repeats": repeats, "bytes": [p.stat().st_size for p in fixtures],
            "steps_ms": steps, "per_check_ms": _per_check(steps)}


def _floor_migrate(db: Path, migrations: list[tuple[int, str, str]]) -> None:
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        floor_mod.migrate(conn, migrations)


def _floor_checks(db: Path) -> None:
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        floor_mod.checks(conn)


STATE = "idempotent, only on a change: state_of (every row read and hashed), once"


def _cpu(steps: dict[str, dict[str, float]]) -> Callable[..., float]:
    """``cpu(*step names, times=k)``: their summed median CPU ms, times k."""
    def cpu(*names: str, times: float = 1.0) -> float:
        return sum(steps[n]["cpu_ms"] for n in names) * times
    return cpu


def _per_check(steps: dict[str, dict[str, float]]) -> dict[str, float | None]:
    """CPU ms per case of each check, assembled from the steps (what the check's code calls)."""
    cpu = _cpu(steps)
    upgrade = cpu("case dir", "copy", "migrate (sqlfiles engine)", "rmtree case dir")
    floor = cpu("floor: copy", "floor: migrate", "floor: integrity + fk + schema", "floor: delete")
    extra_idempotent = (cpu("idempotent: sha256 of the files", "idempotent: header", times=2)
                        + cpu("idempotent: copy kept at head", "idempotent: migrate again (nothing pending)"))
    extra_converges = cpu("schema-converges: fresh install", "schema-converges: read both schemas + diff")
    extra_integrity = cpu("integrity: observe (integrity + fk)")
    out: dict[str, float | None] = {
        "floor": floor,
        "upgrades": upgrade,
        "integrity": upgrade + extra_integrity,
        "schema-converges": upgrade + extra_converges,
        "idempotent": upgrade + extra_idempotent,
        # before the bytes-first design: the state read twice on every run
        "idempotent, state read before and after": upgrade + extra_idempotent
        - cpu("idempotent: copy kept at head") + cpu(STATE, times=2),
        # a projection, not a measurement: the four checks judging one upgraded copy per fixture
        "projected: four checks sharing one upgrade": upgrade + extra_integrity + extra_idempotent + extra_converges,
    }
    out = {k: round(v, 3) for k, v in out.items()}  # type: ignore[arg-type]
    four = ("upgrades", "integrity", "schema-converges", "idempotent")
    out["integrity_over_floor"] = round(out["integrity"] / floor, 3) if floor else None  # type: ignore[operator]
    out["four_checks_over_floor"] = round(sum(out[k] for k in four) / floor, 3) if floor else None  # type: ignore[misc]
    shared = out["projected: four checks sharing one upgrade"]
    out["projected_sharing_over_floor"] = round(shared / floor, 3) if floor else None  # type: ignore[operator]
    return out
