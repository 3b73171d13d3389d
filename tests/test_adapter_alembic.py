"""An alembic project gated with ``adapter = "alembic"`` and no glue: alembic's own API runs
the revisions (five, one a ``batch_alter_table`` rebuild), the harness reads
``alembic_version`` and alembic's offline SQL. Green when correct; red on a revision that
loses rows and on one whose statements commit one by one."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("alembic", reason="the alembic adapter drives alembic (pip install alembic: the test extra)")

from harness.engines.alembic import AlembicEngine  # noqa: E402
from harness.errors import InputError  # noqa: E402
from harness.runner import zeroconf  # noqa: E402
from harness.engines.formats import Recorded, read_history  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
PROJECT = DATA / "alembic_project"
VARIANTS = DATA / "alembic_variants"
LAST = "7c2a9e05d3b6_order_status.py"


def project(tmp_path: Path, last: str | None = None) -> Path:
    copy = tmp_path / "app"
    shutil.copytree(PROJECT, copy)
    if last:
        shutil.copyfile(VARIANTS / last, copy / "migrations" / "versions" / LAST)
    return copy


def gate(tmp_path: Path, app: Path, *cases: str) -> dict[str, dict]:
    """`harness migrations` writes the fixtures and an `adapter = "alembic"` scenario; gate it."""
    prepared = zeroconf.prepare(app, workdir=tmp_path / "work", log=lambda line: None)
    text = prepared.scenario.read_text(encoding="utf-8")
    assert 'adapter = "alembic"' in text and "[checks.install]" in text
    args = [arg for case in cases for arg in ("--case", case)]
    run = subprocess.run([sys.executable, "-m", "harness", "gate", str(prepared.scenario), "-n", "0",
                          "--reports", str(tmp_path / "reports"), *args], capture_output=True, text=True,
                         timeout=600, cwd=tmp_path)
    assert run.returncode in (0, 1), run.stdout + run.stderr
    results = json.loads((tmp_path / "reports" / "results.json").read_text(encoding="utf-8"))
    return {case["case_id"]: case for case in results["cases"]}


def test_revisions_are_read_in_order_with_their_offline_sql(tmp_path: Path) -> None:
    engine = AlembicEngine(project(tmp_path) / "alembic.ini")
    migrations = engine.migrations()
    assert [m.version for m in migrations] == [1, 2, 3, 4, 5]
    assert engine.revisions[0] == "3f1c0a9d2b10" and engine.revisions[-1] == "7c2a9e05d3b6"
    batch = migrations[2]
    assert batch.source == "migrations/versions/0b9d5e7c3a21_customers_archived.py"
    assert batch.sql and "_alembic_tmp_customers" in batch.sql and "UPDATE customers SET email" in batch.sql
    assert all("alembic_version" not in (m.sql or "") for m in migrations)  # bookkeeping is history, not schema
    db = tmp_path / "app.sqlite3"
    assert engine.migrate(db, 2).ok
    with history_of(db, engine) as found:
        assert found.table == "alembic_version" and found.versions == (2,) and found.cumulative
    assert engine.migrate(db).ok
    report = engine.diagnostics(db)
    assert report.schema_version == 5 and report.clean  # type: ignore[union-attr]


class history_of:
    def __init__(self, db: Path, engine: AlembicEngine) -> None:
        import sqlite3

        self.conn = sqlite3.connect(db)
        self.engine = engine

    def __enter__(self) -> Recorded:
        return read_history(self.conn, self.engine.history_format)

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


def test_a_project_with_several_heads_is_an_input_error(tmp_path: Path) -> None:
    app = project(tmp_path)
    branch = app / "migrations" / "versions" / "ffff00001111_branch.py"
    branch.write_text('"""a second head"""\nrevision = "ffff00001111"\ndown_revision = "a7e44c01f9d3"\n\n\n'
                      "def upgrade() -> None:\n    pass\n", encoding="utf-8")
    with pytest.raises(InputError, match="2 heads"):
        AlembicEngine(app / "alembic.ini")


def test_correct_project_is_green(tmp_path: Path) -> None:
    results = gate(tmp_path, project(tmp_path))
    outcomes = {case_id: case["outcome"] for case_id, case in results.items()}
    assert outcomes["install::crash-atomic"] == "passed" and outcomes["install::migrates-to-head"] == "passed"
    assert any(c.startswith("matrix[fixture=v3]::data-preserved") for c in outcomes)  # the batch rebuild's data
    bad = {c: o for c, o in outcomes.items() if o not in ("passed", "warned")}
    assert not bad, bad


def test_a_revision_that_loses_rows_is_red(tmp_path: Path) -> None:
    results = gate(tmp_path, project(tmp_path, "order_status_lossy.py"), "matrix[fixture=v4]::data-preserved",
                   "matrix[fixture=v4]::upgrades")
    lost = results["matrix[fixture=v4]::data-preserved"]
    assert lost["outcome"] == "failed" and "table orders" in lost["summary"] and "rows lost" in lost["summary"]
    assert results["matrix[fixture=v4]::upgrades"]["outcome"] == "passed"  # the upgrade itself "works"


def test_a_revision_that_commits_statement_by_statement_is_red(tmp_path: Path) -> None:
    results = gate(tmp_path, project(tmp_path, "order_status_autocommit.py"), "install::crash-atomic",
                   "matrix[fixture=v4]::upgrades")
    crash = results["install::crash-atomic"]
    assert crash["outcome"] == "failed" and "no whole number of migrations" in crash["summary"], crash["summary"]
    assert results["matrix[fixture=v4]::upgrades"]["outcome"] == "passed"
