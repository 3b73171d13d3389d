"""Each migration framework's conventions, applied by the sqlfiles adapter as the framework would.

The directories under tests/data/formats/<framework>/migrations hold the same three
migrations (1, 2, 10: "10" sorts before "2" as text, and needs 1) written for each framework,
with one file carrying its own BEGIN/COMMIT or a PRAGMA where the framework allows it.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from gate_helpers import query
from harness.engines.formats import detect, flyway, goose, read_history, refinery
from harness.engines.protocol import FAULT_KILL_AFTER_COMMIT, Diagnostics, Fault
from harness.engines.sqlfiles import SqlFilesEngine
from harness.errors import InputError

DATA = Path(__file__).resolve().parent / "data" / "formats"
FRAMEWORKS = ("plain", "refinery", "flyway", "sqlx", "golang-migrate", "goose", "dbmate")


@dataclass(frozen=True)
class Spec:
    history_format: str  # the format whose history table read_history finds
    history_versions: tuple[int, ...]  # what that reader reads back after a full install
    records_names: bool
    has_checksums: bool
    gap_sql: str | None  # deletes version 2's row; None where a gap cannot exist
    dirty_sql: str | None  # marks a row failed / dirty; None where the framework has no such row
    version_10_files: tuple[str, ...]
    version_2_file: str
    user_version: int = 0


SPECS = {
    "plain": Spec("plain", (1, 2, 10), True, True, "DELETE FROM schema_migrations WHERE version = 2", None,
                  ("10_pinned.sql",), "2_tags.sql"),
    "refinery": Spec("refinery", (1, 2, 10), True, True, "DELETE FROM refinery_schema_history WHERE version = 2",
                     None, ("V10__pinned.sql",), "V2__tags.sql", user_version=10),
    "flyway": Spec("flyway", (1, 2, 10), True, True, "DELETE FROM flyway_schema_history WHERE version = '2'",
                   "UPDATE flyway_schema_history SET success = 0 WHERE version = '10'",
                   ("V10__pinned_notes.sql",), "V2__tags.sql", user_version=10),
    "sqlx": Spec("sqlx", (1, 2, 10), True, True, "DELETE FROM _sqlx_migrations WHERE version = 2",
                 "UPDATE _sqlx_migrations SET success = FALSE WHERE version = 10", ("10_pinned.sql",),
                 "2_add_tags.sql"),
    "golang-migrate": Spec("golang-migrate", (10,), False, False, None, "UPDATE schema_migrations SET dirty = 1",
                           ("10_pinned.up.sql", "10_pinned.down.sql"), "2_tags.up.sql", user_version=10),
    "goose": Spec("goose", (1, 2, 10), False, False, "DELETE FROM goose_db_version WHERE version_id = 2", None,
                  ("10_pinned.sql",), "2_tags.sql"),
    "dbmate": Spec("dbmate", (1, 2, 10), False, False, "DELETE FROM schema_migrations WHERE version = '2'", None,
                   ("10_pinned.sql",), "2_tags.sql"),
}


def copy_of(tmp_path: Path, framework: str) -> Path:
    """A writable copy of the framework's project directory; its migrations directory."""
    shutil.copytree(DATA / framework, tmp_path / framework)
    return tmp_path / framework / "migrations"


def migrated(tmp_path: Path, framework: str) -> tuple[Path, Path]:
    directory = copy_of(tmp_path, framework)
    db = tmp_path / "app.db"
    outcome = SqlFilesEngine(directory, "auto").migrate(db)
    assert outcome.ok, outcome.message
    return directory, db


def execute(db: Path, sql: str) -> None:
    conn = sqlite3.connect(db)
    try:
        conn.execute(sql)
        conn.commit()
    finally:
        conn.close()


def assert_refused_untouched(engine: SqlFilesEngine, db: Path, code: str) -> None:
    before = db.read_bytes()
    siblings = sorted(p.name for p in db.parent.iterdir())
    outcome = engine.migrate(db)
    assert (outcome.ok, outcome.error_code) == (False, code), outcome.message
    assert db.read_bytes() == before
    assert sorted(p.name for p in db.parent.iterdir()) == siblings
    report = engine.diagnostics(db)
    assert isinstance(report, Diagnostics) and report.continuity == code
    assert db.read_bytes() == before


def in_transaction_probe(conn: sqlite3.Connection) -> None:
    """Setup hook: ``in_tx()`` says whether the runner wrapped the statement in a transaction."""
    conn.create_function("in_tx", 0, lambda: int(conn.in_transaction))


# -- every framework ----------------------------------------------------------------------------


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_detect_picks_the_framework(framework: str) -> None:
    assert detect(DATA / framework / "migrations") == framework
    assert SqlFilesEngine(DATA / framework / "migrations", "auto").format == framework


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_order_is_numeric_never_text(framework: str) -> None:
    engine = SqlFilesEngine(DATA / framework / "migrations", framework)
    migrations = engine.migrations()
    assert [m.version for m in migrations] == [1, 2, 10]
    sources = [m.source for m in migrations]
    assert all(s.startswith("migrations/") for s in sources)
    assert sorted(sources) != sources  # as text, 10 would come first: the order is not a text sort
    assert all("ALTER TABLE notes ADD COLUMN pinned" in m.sql for m in migrations[2:])


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_fresh_install_writes_the_frameworks_own_history(tmp_path: Path, framework: str) -> None:
    spec = SPECS[framework]
    directory, db = migrated(tmp_path, framework)
    migrations = SqlFilesEngine(directory, framework).migrations()
    columns = [r[1] for r in query(db, "PRAGMA table_info(notes)")]
    assert columns == ["id", "body", "created_at", "pinned"]
    names = {n for (n,) in query(db, "SELECT name FROM sqlite_master")}
    assert {"tags", "idx_notes_created", "idx_tags_note", "idx_notes_pinned"} <= names
    assert query(db, "PRAGMA user_version") == [(spec.user_version,)]
    conn = sqlite3.connect(db)
    try:
        found = read_history(conn)
    finally:
        conn.close()
    assert found.format == spec.history_format
    assert found.versions == spec.history_versions
    by_version = {m.version: m for m in migrations}
    for row in found.rows:
        migration = by_version[row.version]
        assert row.name == (migration.name if spec.records_names else None)
        if spec.has_checksums:
            assert row.checksum == migration.checksum != ""
        else:
            assert not row.checksum and migration.checksum == ""


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_second_migrate_changes_nothing(tmp_path: Path, framework: str) -> None:
    directory, db = migrated(tmp_path, framework)
    before = db.read_bytes()
    outcome = SqlFilesEngine(directory, "auto").migrate(db)
    assert outcome.ok and outcome.message == "nothing to apply"
    assert db.read_bytes() == before


@pytest.mark.parametrize("framework", [f for f in FRAMEWORKS if SPECS[f].gap_sql])
def test_a_hole_in_the_history_is_a_gap(tmp_path: Path, framework: str) -> None:
    directory, db = migrated(tmp_path, framework)
    execute(db, SPECS[framework].gap_sql or "")
    assert_refused_untouched(SqlFilesEngine(directory, "auto"), db, "migration_gap")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_an_applied_version_without_a_file_is_unknown(tmp_path: Path, framework: str) -> None:
    directory, db = migrated(tmp_path, framework)
    for name in SPECS[framework].version_10_files:
        (directory / name).unlink()
    assert_refused_untouched(SqlFilesEngine(directory, framework), db, "migration_unknown_version")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_an_edited_file_is_a_mismatch_where_the_framework_keeps_checksums(tmp_path: Path, framework: str) -> None:
    directory, db = migrated(tmp_path, framework)
    path = directory / SPECS[framework].version_2_file
    path.write_text(path.read_text().replace("label TEXT NOT NULL", "label TEXT NOT NULL, colour TEXT"))
    engine = SqlFilesEngine(directory, framework)
    if SPECS[framework].has_checksums:
        assert_refused_untouched(engine, db, "migration_checksum_mismatch")
    else:  # goose, golang-migrate and dbmate record no checksum: they cannot see it either
        before = db.read_bytes()
        assert engine.migrate(db).message == "nothing to apply"
        assert db.read_bytes() == before


@pytest.mark.parametrize("framework", [f for f in FRAMEWORKS if SPECS[f].dirty_sql])
def test_a_failed_or_dirty_row_is_refused(tmp_path: Path, framework: str) -> None:
    directory, db = migrated(tmp_path, framework)
    execute(db, SPECS[framework].dirty_sql or "")
    assert_refused_untouched(SqlFilesEngine(directory, framework), db, "migration_dirty")


# -- transactions and no-transaction markers ----------------------------------------------------

PROBE = "CREATE TABLE probe AS SELECT in_tx() AS wrapped;\n"
MARKED = {  # framework: (file name, text, companion files) where the file opts out of the transaction
    "sqlx": ("1_probe.sql", "-- no-transaction\n" + PROBE, {}),
    "goose": ("1_probe.sql", "-- +goose NO TRANSACTION\n-- +goose Up\n" + PROBE + "-- +goose Down\n", {}),
    "dbmate": ("1_probe.sql", "-- migrate:up transaction:false\n" + PROBE + "-- migrate:down\n", {}),
    "flyway": ("V1__probe.sql", PROBE, {"V1__probe.sql.conf": "executeInTransaction=false\n"}),
}
UNMARKED = {
    "plain": ("1_probe.sql", PROBE),
    "refinery": ("V1__probe.sql", PROBE),
    "flyway": ("V1__probe.sql", PROBE),
    "sqlx": ("1_probe.sql", PROBE),
    "golang-migrate": ("1_probe.up.sql", PROBE),
    "goose": ("1_probe.sql", "-- +goose Up\n" + PROBE + "-- +goose Down\n"),
    "dbmate": ("1_probe.sql", "-- migrate:up\n" + PROBE + "-- migrate:down\n"),
}


def probe_run(tmp_path: Path, framework: str, files: dict[str, str]) -> int:
    directory = tmp_path / "migrations"
    directory.mkdir()
    for name, text in files.items():
        (directory / name).write_text(text)
    db = tmp_path / "app.db"
    outcome = SqlFilesEngine(directory, framework, setup=in_transaction_probe).migrate(db)
    assert outcome.ok, outcome.message
    return query(db, "SELECT wrapped FROM probe")[0][0]


@pytest.mark.parametrize("framework", sorted(UNMARKED))
def test_by_default_each_file_runs_in_a_transaction(tmp_path: Path, framework: str) -> None:
    name, text = UNMARKED[framework]
    assert probe_run(tmp_path, framework, {name: text}) == 1


@pytest.mark.parametrize("framework", sorted(MARKED))
def test_no_transaction_markers_are_honoured(tmp_path: Path, framework: str) -> None:
    name, text, companions = MARKED[framework]
    assert probe_run(tmp_path, framework, {name: text, **companions}) == 0


@pytest.mark.parametrize("framework", ["sqlx", "goose", "dbmate"])
def test_a_statement_that_fails_in_a_transaction_works_under_the_marker(tmp_path: Path, framework: str) -> None:
    body = "CREATE TABLE t(x);\nVACUUM;\nPRAGMA journal_mode = WAL;\n"
    text = {"sqlx": "-- no-transaction\n" + body,
            "goose": "-- +goose NO TRANSACTION\n-- +goose Up\n" + body + "-- +goose Down\n",
            "dbmate": "-- migrate:up transaction:false\n" + body + "-- migrate:down\n"}[framework]
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "1_vacuum.sql").write_text(text)
    db = tmp_path / "app.db"
    outcome = SqlFilesEngine(directory, framework).migrate(db)
    assert outcome.ok, outcome.message
    assert query(db, "PRAGMA journal_mode") == [("wal",)]


def test_refinery_records_a_migration_in_a_second_transaction(tmp_path: Path) -> None:
    """refinery's default (not grouped): the body commits, then its row does, separately."""
    directory = copy_of(tmp_path, "refinery")
    db = tmp_path / "app.db"
    engine = SqlFilesEngine(directory, "refinery")
    run = engine.migrate_with_fault(db, None, Fault(FAULT_KILL_AFTER_COMMIT, 1))
    assert run.crashed
    assert query(db, "SELECT name FROM sqlite_master WHERE name = 'notes'") == [("notes",)]
    assert query(db, "SELECT count(*) FROM refinery_schema_history") == [(0,)]


def test_golang_migrate_sets_dirty_before_the_body(tmp_path: Path) -> None:
    directory = copy_of(tmp_path, "golang-migrate")
    db = tmp_path / "app.db"
    engine = SqlFilesEngine(directory, "golang-migrate")
    run = engine.migrate_with_fault(db, None, Fault(FAULT_KILL_AFTER_COMMIT, 1))
    assert run.crashed
    assert query(db, "SELECT version, dirty FROM schema_migrations") == [(1, 1)]
    assert query(db, "SELECT name FROM sqlite_master WHERE name = 'notes'") == []
    assert_refused_untouched(engine, db, "migration_dirty")


def test_golang_migrate_leaves_a_failed_migration_dirty(tmp_path: Path) -> None:
    directory = copy_of(tmp_path, "golang-migrate")
    (directory / "2_tags.up.sql").write_text("CREATE TABLE tags(x);\nINSERT INTO nowhere VALUES (1);\n")
    db = tmp_path / "app.db"
    engine = SqlFilesEngine(directory, "golang-migrate")
    outcome = engine.migrate(db)
    assert outcome.error_code == "migration_failed" and "2_tags.up.sql line 2" in outcome.message
    assert query(db, "SELECT version, dirty FROM schema_migrations") == [(2, 1)]
    assert query(db, "SELECT name FROM sqlite_master WHERE name = 'tags'") == []  # the body rolled back
    assert_refused_untouched(engine, db, "migration_dirty")


# -- refinery -----------------------------------------------------------------------------------


def test_refinery_checksum_is_siphash13_of_name_version_sql() -> None:
    """refinery_core Migration::unapplied: SipHasher13::new() (zero keys), then name.hash,
    version.hash, sql.hash with Rust's Hash framing: a str writes its UTF-8 bytes and a 0xFF
    byte, an i32 its 4 little-endian bytes. (The implementation was also checked against
    checksums a real refinery install recorded: EveBox's V1__Initial..V3__RemoveFTS.)"""
    stream = b"init" + b"\xff" + struct.pack("<i", 1) + b"CREATE TABLE a(x);\n" + b"\xff"
    assert refinery.siphash13(stream) == 16777124742384662692
    assert refinery.checksum("init", 1, "CREATE TABLE a(x);\n") == 16777124742384662692
    assert refinery.checksum("init", 2, "CREATE TABLE a(x);\n") != 16777124742384662692


@pytest.mark.skipif(sys.hash_info.algorithm != "siphash13", reason="CPython's str/bytes hash is not SipHash-1-3")
def test_siphash13_agrees_with_cpythons_own() -> None:
    """With PYTHONHASHSEED=0 CPython hashes bytes with SipHash-1-3 and a zero key: an
    independent implementation to check ours against, for every tail length."""
    samples = [bytes(range(40, 40 + n)) for n in range(1, 20)]
    samples.append(b"init\xff" + struct.pack("<i", 1) + b"CREATE TABLE a(x);\n\xff")
    code = f"import sys; print(*[hash(b) for b in {samples!r}])"
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONHASHSEED": "0"}, capture_output=True,
                         text=True, check=True).stdout.split()
    ours = [refinery.siphash13(b) for b in samples]
    assert [int(v) % 2**64 for v in out] == ours


def test_refinery_skips_unversioned_files_with_a_note(tmp_path: Path) -> None:
    directory = copy_of(tmp_path, "refinery")
    (directory / "U3__backfill.sql").write_text("INSERT INTO notes VALUES (1, 'x', 'y', 0);\n")
    engine = SqlFilesEngine(directory, "refinery")
    assert [m.version for m in engine.migrations()] == [1, 2, 10]
    assert any(n.startswith("U3__backfill.sql: refinery unversioned") for n in engine.notes)
    db = tmp_path / "app.db"
    assert engine.migrate(db).ok
    assert query(db, "SELECT count(*) FROM notes") == [(0,)]


def test_refinery_checksum_covers_the_byte_order_mark(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "V1__init.sql").write_bytes(b"\xef\xbb\xbfCREATE TABLE a(x);\n")
    (migration,) = SqlFilesEngine(directory, "refinery").migrations()
    assert migration.checksum == str(refinery.checksum("init", 1, "\ufeffCREATE TABLE a(x);\n"))
    assert migration.sql == "CREATE TABLE a(x);\n"


# -- sqlx ---------------------------------------------------------------------------------------


def test_sqlx_checksum_is_sha384_of_the_file_bytes(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    directory.mkdir()
    raw = b"\xef\xbb\xbfCREATE TABLE a(x);\r\nINSERT INTO a VALUES (1);\r\n"
    (directory / "20240504090241_create_a_table.sql").write_bytes(raw)
    (directory / "20240504090241_create_a_table.down.sql").write_text("DROP TABLE a;\n")
    engine = SqlFilesEngine(directory, "sqlx")
    (migration,) = engine.migrations()
    assert migration.checksum == hashlib.sha384(raw).hexdigest()
    assert (migration.version, migration.name) == (20240504090241, "create a table")
    db = tmp_path / "app.db"
    assert engine.migrate(db).ok
    assert query(db, "SELECT checksum, description, success, execution_time >= 0 FROM _sqlx_migrations") == [
        (hashlib.sha384(raw).digest(), "create a table", 1, 1)]
    assert any("down migration" in n for n in engine.notes)


# -- Flyway -------------------------------------------------------------------------------------


def test_flyway_checksum_is_crc32_of_the_lines() -> None:
    """flyway-core ChecksumCalculator: CRC32 updated with each line's UTF-8 bytes (line
    terminators dropped, BOM stripped), cast to a signed int."""
    expected = zlib.crc32(b"CREATE TABLE a(x);" + b"INSERT INTO a VALUES (1);")
    assert expected == 2125430528
    for raw in (b"CREATE TABLE a(x);\nINSERT INTO a VALUES (1);\n",
                b"CREATE TABLE a(x);\r\nINSERT INTO a VALUES (1);",
                b"\xef\xbb\xbfCREATE TABLE a(x);\r\rINSERT INTO a VALUES (1);\r\n"):
        assert flyway.checksum(raw) == 2125430528
    assert zlib.crc32(b"CREATE TABLE d(x);") == 2288336950  # above 2**31 - 1: Java's int is negative
    assert flyway.checksum(b"CREATE TABLE d(x);\n") == 2288336950 - 2**32 == -2006630346


def test_flyway_dotted_versions_order_by_part_and_map_to_ranks(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    directory.mkdir()
    for name in ("V10__j.sql", "V2__c.sql", "V1_1__b.sql", "V1__a.sql", "V1.10__d.sql", "V1.2__e_f.sql"):
        (directory / name).write_text(f"CREATE TABLE t_{name.split('__')[1][:-4]}(x);\n")
    engine = SqlFilesEngine(directory, "auto")
    assert engine.format == "flyway"
    assert [(m.version, m.source) for m in engine.migrations()] == [
        (1, "migrations/V1__a.sql"), (2, "migrations/V1_1__b.sql"), (3, "migrations/V1.2__e_f.sql"),
        (4, "migrations/V1.10__d.sql"), (5, "migrations/V2__c.sql"), (6, "migrations/V10__j.sql")]
    assert engine.migrations()[2].name == "e f"
    db = tmp_path / "app.db"
    assert engine.migrate(db, target=3).ok
    assert query(db, "SELECT version FROM flyway_schema_history ORDER BY installed_rank") == [
        ("1",), ("1.1",), ("1.2",)]
    assert engine.migrate(db).ok and engine.migrate(db).message == "nothing to apply"
    execute(db, "DELETE FROM flyway_schema_history WHERE version = '1.1'")
    assert_refused_untouched(engine, db, "migration_gap")


def test_flyway_version_1_0_is_version_1(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "V1__a.sql").write_text("CREATE TABLE a(x);\n")
    (directory / "V1.0__b.sql").write_text("CREATE TABLE b(x);\n")
    with pytest.raises(InputError, match="duplicate migration version"):
        SqlFilesEngine(directory, "flyway")


def test_flyway_repeatables_run_last_and_again_when_changed(tmp_path: Path) -> None:
    directory, db = migrated(tmp_path, "flyway")
    rows = query(db, "SELECT installed_rank, version, script FROM flyway_schema_history ORDER BY installed_rank")
    assert rows[-1] == (4, None, "R__pinned_view.sql")
    view = directory / "R__pinned_view.sql"
    view.write_text(view.read_text().replace("SELECT id, body", "SELECT id, body, created_at"))
    engine = SqlFilesEngine(directory, "flyway")
    outcome = engine.migrate(db)
    assert outcome.ok and outcome.message == "applied 1 migration(s)"
    assert query(db, "SELECT installed_rank, checksum FROM flyway_schema_history WHERE version IS NULL") == [
        (4, int(flyway.checksum(b"-- Repeatable: runs after the versioned migrations, again whenever it "
                                b"changes.\nDROP VIEW IF EXISTS pinned_notes;\nCREATE VIEW pinned_notes AS "
                                b"SELECT id, body FROM notes WHERE pinned = 1;\n"))),
        (5, flyway.checksum(view.read_bytes()))]
    assert [r[1] for r in query(db, "PRAGMA table_info(pinned_notes)")] == ["id", "body", "created_at"]
    assert engine.migrate(db).message == "nothing to apply"


def test_flyway_records_a_failed_non_transactional_migration(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "V1__a.sql").write_text("CREATE TABLE a(x);\n")
    (directory / "V2__b.sql").write_text("CREATE TABLE b(x);\nINSERT INTO nowhere VALUES (1);\n")
    (directory / "V2__b.sql.conf").write_text("executeInTransaction=false\n")
    (directory / "V3__c.sql").write_text("CREATE TABLE c(x);\nINSERT INTO nowhere VALUES (1);\n")
    db = tmp_path / "app.db"
    engine = SqlFilesEngine(directory, "auto")
    assert engine.format == "flyway" and not engine.ignored
    outcome = engine.migrate(db)
    assert outcome.error_code == "migration_failed" and "V2__b.sql line 2" in outcome.message
    assert query(db, "SELECT version, success FROM flyway_schema_history ORDER BY installed_rank") == [
        ("1", 1), ("2", 0)]
    assert_refused_untouched(engine, db, "migration_dirty")


def test_flyway_rolls_back_a_failed_transactional_migration_without_a_row(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "V1__a.sql").write_text("CREATE TABLE a(x);\n")
    (directory / "V2__b.sql").write_text("CREATE TABLE b(x);\nINSERT INTO nowhere VALUES (1);\n")
    db = tmp_path / "app.db"
    assert SqlFilesEngine(directory, "flyway").migrate(db).error_code == "migration_failed"
    assert query(db, "SELECT version, success FROM flyway_schema_history") == [("1", 1)]
    assert query(db, "SELECT name FROM sqlite_master WHERE name = 'b'") == []


# -- goose --------------------------------------------------------------------------------------


def test_goose_statement_begin_end_makes_one_statement_of_a_trigger(tmp_path: Path) -> None:
    path = DATA / "goose" / "migrations" / "2_tags.sql"
    statements, use_tx, up = goose.parse(path, path.read_text())
    assert use_tx
    trigger = statements[-1]
    assert trigger.text.startswith("CREATE TRIGGER tags_touch_note") and trigger.text.endswith("END;")
    assert trigger.line == 7 and len(statements) == 3
    assert "DROP TABLE" not in up  # the down section is not part of the up SQL
    directory, db = migrated(tmp_path, "goose")
    execute(db, "INSERT INTO notes (id, body, created_at) VALUES (1, 'n', 'then')")
    execute(db, "INSERT INTO tags (note_id, label) VALUES (1, 't')")
    assert query(db, "SELECT created_at != 'then' FROM notes") == [(1,)]  # the trigger fired
    assert query(db, "SELECT version_id, is_applied FROM goose_db_version ORDER BY id") == [
        (0, 1), (1, 1), (2, 1), (10, 1)]


def test_goose_without_statement_begin_end_splits_a_trigger_as_goose_does(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "1_t.sql").write_text(
        "-- +goose Up\nCREATE TABLE t(x);\nCREATE TRIGGER t_ai AFTER INSERT ON t\nBEGIN\n"
        "    UPDATE t SET x = 1;\nEND;\n-- +goose Down\nDROP TABLE t;\n")
    outcome = SqlFilesEngine(directory, "goose").migrate(tmp_path / "app.db")
    assert outcome.error_code == "migration_failed" and "1_t.sql line 3" in outcome.message


def test_goose_file_without_up_annotation_is_an_input_error(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "1_a.sql").write_text("-- +goose Up\nCREATE TABLE a(x);\n")
    (directory / "2_b.sql").write_text("CREATE TABLE b(x);\n")
    with pytest.raises(InputError, match="2_b.sql.*before '-- \\+goose Up'"):
        SqlFilesEngine(directory, "goose")
    with pytest.raises(InputError, match="different formats"):
        detect(directory)


# -- dbmate -------------------------------------------------------------------------------------


def test_dbmate_runs_only_the_up_block_and_records_the_version_as_text(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "20240101120000_a.sql").write_text(
        "-- migrate:up\nCREATE TABLE a(x);\n\n-- migrate:down\nDROP TABLE a;\n")
    (directory / "003_b.sql").write_text("-- migrate:up\nCREATE TABLE b(x);\n-- migrate:down\nDROP TABLE b;\n")
    engine = SqlFilesEngine(directory, "auto")
    assert engine.format == "dbmate"
    assert [(m.version, m.name) for m in engine.migrations()] == [(3, "b"), (20240101120000, "a")]
    db = tmp_path / "app.db"
    assert engine.migrate(db).ok
    assert query(db, "SELECT version, typeof(version) FROM schema_migrations ORDER BY rowid") == [
        ("003", "text"), ("20240101120000", "text")]
    assert {n for (n,) in query(db, "SELECT name FROM sqlite_master WHERE type = 'table'")} == {
        "a", "b", "schema_migrations"}


def test_dbmate_creates_its_table_before_a_failing_first_migration(tmp_path: Path) -> None:
    """As the dbmate binary: CreateMigrationsTable runs before the first migration's transaction."""
    from harness.checks.states import state_of

    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "1_a.sql").write_text("-- migrate:up\nCREATE TABLE a(x);\nINSERT INTO nowhere VALUES (1);\n"
                                       "-- migrate:down\nDROP TABLE a;\n")
    (directory / "2_b.sql").write_text("-- migrate:up\nCREATE TABLE b(x);\n-- migrate:down\nDROP TABLE b;\n")
    db = tmp_path / "app.db"
    outcome = SqlFilesEngine(directory, "dbmate").migrate(db)
    assert (outcome.ok, outcome.error_code) == (False, "migration_failed") and "1_a.sql line 3" in outcome.message
    assert query(db, "SELECT name FROM sqlite_master") == [("schema_migrations",), ("sqlite_autoindex_schema_migrations_1",)]
    assert query(db, "SELECT count(*) FROM schema_migrations") == [(0,)]
    # the table alone records nothing: the same logical state as before the run (all-old)
    assert state_of(db) == state_of(tmp_path / "never-created.db")
    assert state_of(db) != state_of(migrated(tmp_path / "other", "dbmate")[1])


def test_dbmate_requires_its_markers(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "1_a.sql").write_text("-- migrate:up\nCREATE TABLE a(x);\n")
    with pytest.raises(InputError, match="down block"):
        SqlFilesEngine(directory, "dbmate")


# -- detection ------------------------------------------------------------------------------------


def make(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def test_detect_refuses_a_mixed_directory_naming_the_candidates(tmp_path: Path) -> None:
    directory = make(tmp_path / "migrations", {"V1__a.sql": "CREATE TABLE a(x);\n",
                                               "0002_b.sql": "CREATE TABLE b(x);\n"})
    with pytest.raises(InputError) as err:
        detect(directory)
    message = str(err.value)
    assert str(directory) in message and "key 'engine.format'" in message
    assert "V1__a.sql: flyway or refinery" in message and "0002_b.sql: plain or sqlx" in message


def test_detect_refuses_refinery_or_flyway_without_a_tie_breaker(tmp_path: Path) -> None:
    directory = make(tmp_path / "app" / "migrations", {"V1__a.sql": "", "V2__b.sql": ""})
    with pytest.raises(InputError, match="could be flyway or refinery"):
        detect(directory)
    (tmp_path / "app" / "Cargo.toml").write_text("[package]\n")
    assert detect(directory) == "refinery"
    (tmp_path / "app" / "Cargo.toml").unlink()
    (tmp_path / "app" / "pom.xml").write_text("<project/>\n")
    assert detect(directory) == "flyway"


def test_detect_tells_flyway_by_its_own_files(tmp_path: Path) -> None:
    assert detect(make(tmp_path / "a", {"V1__a.sql": "", "R__views.sql": ""})) == "flyway"
    assert detect(make(tmp_path / "b", {"V1__a.sql": "", "V1_1__b.sql": ""})) == "flyway"
    assert detect(make(tmp_path / "c", {"V1__add-users.sql": ""})) == "flyway"


def test_detect_sqlx_or_golang_migrate(tmp_path: Path) -> None:
    directory = make(tmp_path / "app" / "migrations", {"1_a.up.sql": "", "1_a.down.sql": ""})
    with pytest.raises(InputError, match="could be golang-migrate or sqlx"):
        detect(directory)
    (tmp_path / "app" / "go.mod").write_text("module x\n")
    assert detect(directory) == "golang-migrate"
    make(directory, {"2_b.up.sql": "-- no-transaction\nVACUUM;\n", "2_b.down.sql": ""})
    assert detect(directory) == "sqlx"


def test_detect_unmarked_numbered_files_are_plain(tmp_path: Path) -> None:
    directory = make(tmp_path / "migrations", {"1_a.sql": "CREATE TABLE a(x);\n", "README.md": ""})
    assert detect(directory) == "plain"
    make(directory, {"2_b.sql": "-- no-transaction\nVACUUM;\n"})
    assert detect(directory) == "sqlx"
    assert detect(make(tmp_path / "empty", {})) == "plain"
