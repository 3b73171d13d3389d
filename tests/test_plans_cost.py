"""Cost counting (VM steps, sqlite_stmt / APSW counters) and the same plans on stdlib sqlite3 and APSW."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from harness.checks import plans as family
from harness.engines.python import PythonEngine
from harness.plans import baseline, dataset
from harness.plans import spec as spec_mod
from harness.reference import ReferenceEngine
from harness.scenario import load as load_scenario
from harness.sqlite import cost
from harness.sqlite import schema
from harness.sqlite.plans import explain, render

sys.path.insert(0, str(Path(__file__).resolve().parent / "data" / "plans"))
from plan_scenario import write_scenario  # noqa: E402


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "c.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE runs (id INTEGER PRIMARY KEY, project TEXT, created TEXT, body TEXT);
        CREATE INDEX runs_project_created ON runs (project, created);
        CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
    """)
    conn.executemany("INSERT INTO runs (project, created, body) VALUES (?, ?, ?)",
                     [(f"p{i % 20}", f"2026-01-{i % 28 + 1:02d}", f"b{i % 50}") for i in range(1000)])
    conn.executemany("INSERT INTO notes (body) VALUES (?)", [(f"b{i}",) for i in range(300)])
    conn.commit()
    conn.close()
    return path


def stdlib(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(db, isolation_level=None)


def needs_counters() -> None:
    reason = cost.stmt_counters_available(sqlite3.connect(":memory:"))
    if reason is not None:
        pytest.skip(reason)


INDEXED = "SELECT id, created FROM runs WHERE project = ? ORDER BY created"
SCANNED = "SELECT id FROM runs WHERE body = ? ORDER BY created"
JOINED = "SELECT r.id FROM runs r JOIN notes n ON n.body = r.body WHERE r.created > ?"


def test_vm_steps_are_deterministic(db: Path) -> None:
    first = [cost.measure(stdlib(db), sql, params) for sql, params in
             ((INDEXED, ("p3",)), (SCANNED, ("b7",)), (JOINED, ("2026-01-20",)))]
    second = [cost.measure(stdlib(db), sql, params) for sql, params in
              ((INDEXED, ("p3",)), (SCANNED, ("b7",)), (JOINED, ("2026-01-20",)))]
    assert first == second
    conn = stdlib(db)
    assert cost.measure(conn, INDEXED, ("p3",)) == cost.measure(conn, INDEXED, ("p3",))  # reused statement too
    assert first[0].rows == 50 and first[0].vm_steps > 0
    assert first[1].vm_steps > first[0].vm_steps  # a full scan does more work than an index search


def test_counters_from_sqlite_stmt(db: Path) -> None:
    needs_counters()
    indexed = cost.measure(stdlib(db), INDEXED, ("p3",))
    assert indexed.counters == "sqlite_stmt"
    assert (indexed.full_scan_steps, indexed.sorts, indexed.automatic_indexes) == (0, 0, 0)
    assert indexed.counter_vm_steps == indexed.vm_steps  # SQLite's own count agrees with the handler's
    scanned = cost.measure(stdlib(db), SCANNED, ("b7",))
    assert scanned.full_scan_steps == 999 and scanned.sorts == 1  # every row stepped, one sorter
    joined = cost.measure(stdlib(db), JOINED, ("2026-01-20",))
    assert joined.automatic_indexes and joined.automatic_indexes > 0


def test_writes_are_measured_and_rolled_back(db: Path) -> None:
    conn = stdlib(db)
    update = "UPDATE runs SET body = 'x' WHERE project = ?"
    first, second = cost.measure(conn, update, ("p2",)), cost.measure(conn, update, ("p2",))
    assert first == second and first.vm_steps > 0
    assert conn.execute("SELECT count(*) FROM runs WHERE body = 'x'").fetchone()[0] == 0
    assert not conn.in_transaction


class NoStmtVtab(sqlite3.Connection):
    """A connection as if SQLite had been built without SQLITE_ENABLE_STMTVTAB."""

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:  # type: ignore[override]
        if "sqlite_stmt" in sql:
            raise sqlite3.OperationalError("no such table: sqlite_stmt")
        return super().execute(sql, *args)  # type: ignore[arg-type]


def test_counters_unavailable_are_marked_clearly(db: Path) -> None:
    conn = sqlite3.connect(db, isolation_level=None, factory=NoStmtVtab)
    measured = cost.measure(conn, INDEXED, ("p3",))
    assert measured.vm_steps == cost.measure(stdlib(db), INDEXED, ("p3",)).vm_steps  # still counted
    assert measured.full_scan_steps is None and measured.sorts is None and measured.automatic_indexes is None
    assert not measured.counters_available
    assert measured.counters.startswith("unavailable: SQLite") and "sqlite_stmt" in measured.counters


def test_not_a_connection() -> None:
    with pytest.raises(TypeError, match="expected sqlite3.Connection or apsw.Connection"):
        cost.measure(object(), "SELECT 1")


# --------------------------------------------------------------------------- APSW (a newer SQLite)


@pytest.fixture(scope="module")
def apsw():  # type: ignore[no-untyped-def]
    return pytest.importorskip("apsw", reason="apsw is not installed (pip install apsw)")


def test_apsw_counts_deterministically(apsw, db: Path) -> None:  # type: ignore[no-untyped-def]
    conn = apsw.Connection(str(db))
    first, second = cost.measure(conn, SCANNED, ("b7",)), cost.measure(conn, SCANNED, ("b7",))
    assert first == second
    assert first.counters == "apsw trace_v2" and first.sqlite_version == apsw.sqlite_lib_version()
    assert (first.full_scan_steps, first.sorts) == (999, 1)
    assert first.counter_vm_steps is not None and abs(first.vm_steps - first.counter_vm_steps) <= 3
    joined = cost.measure(conn, JOINED, ("2026-01-20",))
    assert joined.automatic_indexes and joined.automatic_indexes > 0
    assert cost.measure(stdlib(db), JOINED, ("2026-01-20",)).rows == joined.rows


@pytest.fixture(scope="module")
def reference_dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[spec_mod.PlanSuite, Path]:
    work = tmp_path_factory.mktemp("reference-plans")
    path = write_scenario(work, work / "baselines")
    scenario = load_scenario(path)
    spec = scenario.family("plans")
    assert spec is not None
    suite = spec_mod.parse(path, spec, seed=scenario.seed, suite=scenario.name)
    engine = PythonEngine(ReferenceEngine(), "reference")
    built = dataset.build(engine, suite.datasets["heavy-user"], scope=dataset.scope_of(engine, path))
    return suite, built.path


def test_same_plans_and_verdicts_on_stdlib_and_apsw(apsw, reference_dataset) -> None:  # type: ignore[no-untyped-def]
    suite, db = reference_dataset
    old = dataset.connect(db)
    new = apsw.Connection(str(db), flags=apsw.SQLITE_OPEN_READONLY)
    facts = schema.read(old)
    if apsw.sqlite_lib_version() == sqlite3.sqlite_version:
        pytest.skip("APSW bundles the same SQLite as the stdlib here: nothing to compare")
    for query in suite.queries:
        on_stdlib = explain(old, query.sql, query.bound())
        on_apsw = explain(new, query.sql, query.bound())
        assert on_stdlib.sqlite_version == sqlite3.sqlite_version
        assert on_apsw.sqlite_version == apsw.sqlite_lib_version()
        assert render(on_stdlib) == render(on_apsw), query.name
        # a baseline written on one build holds on the other
        assert baseline.diff(baseline.text_for(query, on_stdlib), on_apsw) == []
        # and every declared expectation judges the same, and holds, on both
        for check in spec_mod.check_ids(query) & set(family.JUDGES):
            for tree in (on_stdlib, on_apsw):
                held, summary = family.judge(check, family.planned_from(suite, query, tree, facts, db))
                assert held, (query.name, check, tree.sqlite_version, summary)


def test_budgets_hold_on_both_builds(apsw, reference_dataset) -> None:  # type: ignore[no-untyped-def]
    suite, db = reference_dataset
    for query in suite.queries:
        for conn in (dataset.connect(db, readonly=False), apsw.Connection(str(db))):
            measured = cost.measure(conn, query.sql, query.bound())
            for item in query.budget:
                value = measured.value(item.metric)
                assert value is not None and value <= item.limit, (query.name, item, measured)
