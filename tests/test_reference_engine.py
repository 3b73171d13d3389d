"""The reference engine, exercised on real files: migrations, snapshots, recovery, posture."""

from __future__ import annotations

import hashlib
import pickle
import re
import shutil
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import pytest

from harness.engines.protocol import Migration
from harness.reference import (
    DB_BUSY,
    DB_CORRUPT,
    DB_FULL,
    DB_IO_ERROR,
    DB_NOT_FOUND,
    DB_POSTURE_MISMATCH,
    DB_RECOVERY_NO_SNAPSHOT,
    MIGRATION_CHECKSUM_MISMATCH,
    MIGRATION_FAILED,
    MIGRATION_FK_VIOLATION,
    MIGRATION_GAP,
    MIGRATION_HISTORY_INVALID,
    MIGRATION_LEGACY_UNRECOGNISED,
    MIGRATION_OUT_OF_ORDER,
    MIGRATION_TARGET_INVALID,
    MIGRATION_UNKNOWN_VERSION,
    SNAPSHOT_VERIFY_FAILED,
    ReferenceEngine,
    StorageError,
    engine as default_engine,
)
from harness.reference import migrator
from harness.reference.errors import classify

MIGRATIONS_DIR = Path(migrator.__file__).parent / "migrations"
NOW = "2026-01-01T00:00:00Z"

CHILD_FOREIGN_KEYS = {  # table -> {(column, parent, on_update, on_delete)}
    "talk_outlines": {("project_id", "talk_projects", "CASCADE", "CASCADE")},
    "runs": {
        ("project_id", "talk_projects", "CASCADE", "CASCADE"),
        ("feedback_id", "auto_feedback", "CASCADE", "SET NULL"),
    },
    "quest_attempts": {
        ("quest_id", "quests", "CASCADE", "RESTRICT"),
        ("project_id", "talk_projects", "CASCADE", "CASCADE"),
        ("feedback_id", "auto_feedback", "CASCADE", "SET NULL"),
    },
    "auto_feedback": {("project_id", "talk_projects", "CASCADE", "CASCADE")},
    "feedback_notes": {
        ("project_id", "talk_projects", "CASCADE", "CASCADE"),
        ("run_id", "runs", "CASCADE", "SET NULL"),
    },
    "peer_reviews": {
        ("project_id", "talk_projects", "CASCADE", "CASCADE"),
        ("run_id", "runs", "CASCADE", "SET NULL"),
    },
    "active_state": {("project_id", "talk_projects", "CASCADE", "SET NULL")},
}


# --- helpers -----------------------------------------------------------------------------


def tree(root: Path) -> dict[str, str]:
    """Every path under ``root`` with its sha256 (directories as 'dir')."""
    return {
        p.relative_to(root).as_posix(): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
    }


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def change_counter(path: Path) -> int:
    return int.from_bytes(path.read_bytes()[24:28], "big")


def query(db: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, params).fetchall()


def write(db: Path, *statements: str) -> None:
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        for statement in statements:
            conn.execute(statement)


def history(db: Path) -> list[tuple[int, str, str]]:
    return query(db, "SELECT version, name, checksum FROM schema_migrations ORDER BY version")


def user_version(db: Path) -> int:
    return query(db, "PRAGMA user_version")[0][0]


def clobber_header(db: Path) -> None:
    with open(db, "r+b") as file:
        file.write(b"NOT A DATABASE!!")


def add_project(db: Path, project_id: str, created_at: str = NOW) -> None:
    write(db, f"INSERT INTO talk_projects (id, title, created_at, updated_at) "
              f"VALUES ('{project_id}', 'Talk {project_id}', '{created_at}', '{created_at}')")


def leave_wal_behind(db: Path, statement: str) -> None:
    """Commit ``statement`` into the WAL and leave -wal/-shm as a killed app would."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute(statement)
    saved = {p: p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name)}
    conn.close()  # checkpoints and deletes the sidecars: put the crash state back
    for path, data in saved.items():
        path.write_bytes(data)
    assert {p.name for p in saved} == {db.name, db.name + "-wal", db.name + "-shm"}


def legacy_db(db: Path, version: int) -> None:
    """A database as the pre-history app left it: schema at ``version``, no history table."""
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        for migration in default_engine.migrations()[:version]:
            for statement in migrator.split_statements(migration):
                conn.execute(statement)


def pinned_clock() -> datetime:
    return datetime(2026, 2, 28, 12, 0, 0, 123456, tzinfo=timezone.utc)


@pytest.fixture
def engine() -> ReferenceEngine:
    return ReferenceEngine()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "profile.db"


# --- the shipped migrations --------------------------------------------------------------


def test_migrations_are_the_files_in_order() -> None:
    migrations = default_engine.migrations()
    assert [m.version for m in migrations] == list(range(1, 8))
    assert [m.name for m in migrations] == [
        "init", "outline_and_settings", "talk_training_flag", "talk_numbers_backfill",
        "runs_audio_nullable", "seed_quests", "fk_constraints",
    ]
    for m in migrations:
        path = MIGRATIONS_DIR / f"{m.version:04d}_{m.name}.sql"
        assert m.checksum == hashlib.sha256(path.read_bytes()).hexdigest()
        assert m.source == f"harness/reference/migrations/{path.name}"
        assert m.sql == path.read_text(encoding="utf-8")
    assert [migrator.needs_foreign_keys_off(m) for m in migrations] == [False] * 6 + [True]


def test_split_statements_respects_literals_comments_and_triggers() -> None:
    sql = (
        "-- leading comment; not a statement\n"
        "CREATE TABLE t (x TEXT DEFAULT 'a;b');\n"
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET x = 'y;'; END;\n"
        "INSERT INTO t VALUES ('1'); INSERT INTO t VALUES ('2');\n"
        "-- trailing comment\n"
    )
    statements = migrator.split_statements(Migration(1, "x", "c", sql))
    assert len(statements) == 4
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")
    with pytest.raises(StorageError, match="after the last"):
        migrator.split_statements(Migration(1, "x", "c", "SELECT 1; SELECT 2"))


# --- fresh install -----------------------------------------------------------------------


def test_fresh_install_reaches_head(engine: ReferenceEngine, db: Path) -> None:
    engine.migrate(db)

    tables = {r[0] for r in query(db, "SELECT name FROM sqlite_schema WHERE type = 'table'")}
    assert tables >= {
        "talk_projects", "talk_outlines", "runs", "quests", "quest_attempts", "auto_feedback",
        "feedback_notes", "peer_reviews", "active_state", "settings", "schema_migrations",
    }
    for table, expected in CHILD_FOREIGN_KEYS.items():
        keys = {(r[3], r[2], r[5], r[6]) for r in query(db, "SELECT * FROM pragma_foreign_key_list(?)", (table,))}
        assert keys == expected, table
        indexed = {r[0] for r in query(
            db, "SELECT ii.name FROM pragma_index_list(?) il, pragma_index_info(il.name) ii WHERE ii.seqno = 0",
            (table,))}
        assert {column for column, *_ in expected} <= indexed, f"unindexed foreign key in {table}"
    indexes = {r[0]: r[1] for r in query(db, "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL")}
    assert "WHERE is_training = 1" in indexes["idx_talk_projects_training"]
    assert indexes["idx_talk_projects_talk_number"].startswith("CREATE UNIQUE INDEX")
    assert "idx_runs_project_created" in indexes
    runs_audio = [r for r in query(db, "PRAGMA table_info(runs)") if r[1] == "audio_path"][0]
    assert runs_audio[3] == 0  # nullable since 0005

    assert history(db) == [(m.version, m.name, m.checksum) for m in engine.migrations()]
    for (applied_at,) in query(db, "SELECT applied_at FROM schema_migrations"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", applied_at)
    assert user_version(db) == 7
    assert query(db, "SELECT count(*) FROM quests")[0][0] == 5
    assert "Conclure en 30 s ✓" in {r[0] for r in query(db, "SELECT title FROM quests")}
    assert query(db, "SELECT count(*) FROM talk_projects")[0][0] == 0  # no "Recovered items"
    assert not (db.parent / "backups").exists()  # nothing to protect on a new install
    assert sorted(p.name for p in db.parent.iterdir()) == ["profile.db"]


def test_foreign_keys_are_enforced_after_migration(engine: ReferenceEngine, db: Path) -> None:
    engine.migrate(db)
    with closing(engine.connect(db)) as conn:
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("INSERT INTO runs (id, project_id, created_at) VALUES ('r', 'nope', 'x')")
        conn.execute(f"INSERT INTO talk_projects (id, title, created_at, updated_at, talk_number) "
                     f"VALUES ('p', 't', '{NOW}', '{NOW}', 1)")
        conn.execute("INSERT INTO runs (id, project_id, created_at) VALUES ('r', 'p', 'x')")
        conn.execute("INSERT INTO feedback_notes (id, project_id, run_id, body, created_at) VALUES ('n', 'p', 'r', 'b', 'x')")
        conn.execute("DELETE FROM runs WHERE id = 'r'")
        assert conn.execute("SELECT run_id FROM feedback_notes").fetchall() == [(None,)]
        conn.execute("DELETE FROM talk_projects WHERE id = 'p'")
        assert conn.execute("SELECT count(*) FROM feedback_notes").fetchone() == (0,)


def test_targets_step_and_stepwise_equals_one_run(engine: ReferenceEngine, tmp_path: Path) -> None:
    stepped, direct = tmp_path / "a" / "stepped.db", tmp_path / "b" / "direct.db"
    stepped.parent.mkdir()
    direct.parent.mkdir()
    for target in range(1, 8):
        engine.migrate(stepped, target)
        assert user_version(stepped) == target
        assert [r[0] for r in history(stepped)] == list(range(1, target + 1))
    engine.migrate(direct)
    with closing(sqlite3.connect(stepped)) as a, closing(sqlite3.connect(direct)) as b:
        assert migrator.fingerprint(a) == migrator.fingerprint(b)
    with pytest.raises(StorageError) as refused:
        engine.migrate(stepped, 3)
    assert refused.value.code == MIGRATION_TARGET_INVALID
    with pytest.raises(StorageError) as unknown:
        engine.migrate(direct, 99)
    assert unknown.value.code == MIGRATION_TARGET_INVALID


def test_migrate_at_head_writes_nothing(engine: ReferenceEngine, db: Path) -> None:
    engine.migrate(db, 5)
    add_project(db, "p1")
    engine.migrate(db)
    before, counter = tree(db.parent), change_counter(db)
    engine.migrate(db)
    engine.migrate(db, 7)
    assert tree(db.parent) == before
    assert change_counter(db) == counter


# --- continuity: refused on a read-only look, file byte-identical -------------------------


def _gap(db: Path) -> None:
    write(db, "DELETE FROM schema_migrations WHERE version IN (3, 5, 6, 7)")


def _out_of_order(db: Path) -> None:
    write(db, "UPDATE schema_migrations SET applied_at = '2999-01-01T00:00:00.000000Z' WHERE version = 2")


def _unknown(db: Path) -> None:
    write(db, "INSERT INTO schema_migrations VALUES (8, 'future', 'abc', '2999-01-01T00:00:00.000000Z')")


def _checksum(db: Path) -> None:
    write(db, "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 4")


def _renamed(db: Path) -> None:
    write(db, "UPDATE schema_migrations SET name = 'renamed' WHERE version = 2")


def _foreign_history(db: Path) -> None:
    write(db, "DROP TABLE schema_migrations", "CREATE TABLE schema_migrations (version INTEGER, dirty INTEGER)",
          "INSERT INTO schema_migrations VALUES (7, 0)")


def _unrecognised(db: Path) -> None:
    write(db, "DROP TABLE schema_migrations", "CREATE TABLE stray (x)")


REFUSALS = {
    MIGRATION_GAP: _gap,
    MIGRATION_OUT_OF_ORDER: _out_of_order,
    MIGRATION_UNKNOWN_VERSION: _unknown,
    MIGRATION_CHECKSUM_MISMATCH: _checksum,
    "renamed": _renamed,
    MIGRATION_HISTORY_INVALID: _foreign_history,
    MIGRATION_LEGACY_UNRECOGNISED: _unrecognised,
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_invalid_history_is_refused_touching_nothing(engine: ReferenceEngine, db: Path, case: str) -> None:
    engine.migrate(db, 6)  # one pending migration, so a careless engine would write
    write(db, "DELETE FROM schema_migrations WHERE version = 7")
    add_project(db, "p1")
    REFUSALS[case](db)
    before = tree(db.parent)

    with pytest.raises(StorageError) as refused:
        engine.migrate(db)
    expected = MIGRATION_CHECKSUM_MISMATCH if case == "renamed" else case
    assert refused.value.code == expected
    assert tree(db.parent) == before  # no snapshot, no history table, no -wal / -shm

    report = engine.diagnostics(db)
    assert report.continuity == expected
    assert tree(db.parent) == before


def test_gap_seen_through_an_uncheckpointed_wal(engine: ReferenceEngine, db: Path) -> None:
    engine.migrate(db)
    holder = sqlite3.connect(db, isolation_level=None)  # another process, still running
    holder.execute("PRAGMA wal_autocheckpoint = 0")
    holder.execute("DELETE FROM schema_migrations WHERE version = 3")
    main_file = sha(db)
    with pytest.raises(StorageError) as refused:
        engine.migrate(db)
    assert refused.value.code == MIGRATION_GAP
    assert sha(db) == main_file
    holder.close()


def test_missing_migration_file_is_an_unknown_version(tmp_path: Path, db: Path) -> None:
    ReferenceEngine().migrate(db)
    shorter = tmp_path / "shorter"
    shorter.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql"))[:6]:
        shutil.copy(path, shorter)
    before = tree(db.parent)
    with pytest.raises(StorageError) as refused:
        ReferenceEngine(migrations_dir=shorter).migrate(db)
    assert refused.value.code == MIGRATION_UNKNOWN_VERSION
    assert tree(db.parent) == before


# --- legacy databases (no history table) --------------------------------------------------


@pytest.mark.parametrize("version", range(1, 8))
def test_legacy_database_is_baselined_and_upgraded(engine: ReferenceEngine, db: Path, version: int) -> None:
    legacy_db(db, version)
    audio_column = "audio_path, " if version < 5 else ""
    audio_value = "'a.wav', " if version < 5 else ""
    write(
        db,
        f"INSERT INTO talk_projects (id, title, created_at, updated_at) VALUES ('p2', 'B', '{NOW}', '{NOW}')",
        f"INSERT INTO talk_projects (id, title, created_at, updated_at) VALUES ('p1', 'A', '{NOW}', '{NOW}')",
        f"INSERT INTO runs (id, project_id, {audio_column}created_at) VALUES ('r1', 'p1', {audio_value}'{NOW}')",
        f"INSERT INTO runs (id, project_id, {audio_column}created_at) VALUES ('r2', 'gone', {audio_value}'{NOW}')",
        f"INSERT INTO feedback_notes (id, project_id, run_id, body, created_at) VALUES ('n1', 'p1', 'gone-run', 'x', '{NOW}')",
        f"INSERT INTO quest_attempts (id, quest_id, project_id, created_at) VALUES ('q1', 'gone-quest', 'gone', '{NOW}')",
        f"INSERT INTO active_state (id, project_id, updated_at) VALUES (1, 'gone', '{NOW}')",
    )
    if version >= 7:  # the orphans went in with foreign_keys off; a 0007 schema must not keep them
        write(db, "DELETE FROM runs WHERE id = 'r2'", "DELETE FROM quest_attempts",
              "UPDATE feedback_notes SET run_id = NULL", "UPDATE active_state SET project_id = NULL")

    engine.migrate(db)

    assert history(db) == [(m.version, m.name, m.checksum) for m in engine.migrations()]
    assert user_version(db) == 7
    assert query(db, "PRAGMA foreign_key_check") == []
    projects = dict(query(db, "SELECT id, talk_number FROM talk_projects"))
    if version < 7:
        assert query(db, "SELECT project_id FROM runs WHERE id = 'r2'") == [("recovered-items",)]
        assert query(db, "SELECT quest_id, project_id FROM quest_attempts") == [("recovered-quest", "recovered-items")]
        assert query(db, "SELECT run_id FROM feedback_notes") == [(None,)]
        assert query(db, "SELECT project_id FROM active_state") == [(None,)]
        assert set(projects) == {"p1", "p2", "recovered-items"}
    if version < 4:  # backfilled 1..n by (created_at, id)
        assert (projects["p1"], projects["p2"]) == (1, 2)
    assert query(db, "SELECT count(*) FROM runs")[0][0] == (2 if version < 7 else 1)
    builtin = query(db, "SELECT count(*) FROM quests WHERE id LIKE 'builtin.%'")[0][0]
    assert builtin == 5  # schemas 5 and 6 are identical: a legacy 5 must still get 0006
    snaps = list((db.parent / "backups").iterdir())
    assert len(snaps) == 1 and snaps[0].name.endswith("-v0000.db")  # legacy: no user_version yet
    with closing(sqlite3.connect(db)) as upgraded, closing(sqlite3.connect(":memory:")) as fresh:
        for m in engine.migrations():
            for statement in migrator.split_statements(m):
                fresh.execute(statement)
        assert migrator.fingerprint(upgraded) == migrator.fingerprint(fresh)


def test_legacy_without_orphans_gets_no_placeholder(engine: ReferenceEngine, db: Path) -> None:
    legacy_db(db, 3)
    add_project(db, "p1")
    engine.migrate(db)
    assert query(db, "SELECT id FROM talk_projects") == [("p1",)]
    assert query(db, "SELECT count(*) FROM quests WHERE id = 'recovered-quest'") == [(0,)]


def test_legacy_with_unknown_index_is_unrecognised(engine: ReferenceEngine, db: Path) -> None:
    legacy_db(db, 3)
    write(db, "CREATE INDEX idx_extra ON runs (created_at)")
    before = tree(db.parent)
    with pytest.raises(StorageError) as refused:
        engine.migrate(db)
    assert refused.value.code == MIGRATION_LEGACY_UNRECOGNISED
    assert tree(db.parent) == before


# --- failures roll back exactly -----------------------------------------------------------


def _migrations_with(tmp_path: Path, replacements: dict[str, str]) -> Path:
    directory = tmp_path / "migrations"
    directory.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        (directory / path.name).write_text(replacements.get(path.name, path.read_text(encoding="utf-8")),
                                           encoding="utf-8")
    return directory


def test_failing_migration_leaves_previous_version_exactly(tmp_path: Path, db: Path) -> None:
    broken = _migrations_with(tmp_path, {"0003_talk_training_flag.sql": (
        "ALTER TABLE talk_projects ADD COLUMN is_training INTEGER NOT NULL DEFAULT 0;\n"
        "CREATE TABLE scratch (x);\n"
        "INSERT INTO no_such_table VALUES (1);\n"
    )})
    engine = ReferenceEngine(migrations_dir=broken)
    with pytest.raises(StorageError) as failed:
        engine.migrate(db)
    assert failed.value.code == MIGRATION_FAILED
    assert "0003_talk_training_flag" in failed.value.message and "no_such_table" in failed.value.message
    assert [r[0] for r in history(db)] == [1, 2]
    assert user_version(db) == 2
    with closing(sqlite3.connect(db)) as conn:
        assert migrator.fingerprint(conn) == migrator.schema_fingerprints(default_engine.migrations())[2]
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


def test_history_row_shares_the_migration_transaction(db: Path) -> None:
    class LosingHistory(ReferenceEngine):
        def record_history(self, conn: sqlite3.Connection, migration: Migration) -> None:
            if migration.version == 3:
                raise sqlite3.OperationalError("disk I/O error")
            super().record_history(conn, migration)

    with pytest.raises(StorageError) as failed:
        LosingHistory().migrate(db)
    assert failed.value.code == MIGRATION_FAILED
    assert "is_training" not in {r[1] for r in query(db, "PRAGMA table_info(talk_projects)")}
    assert [r[0] for r in history(db)] == [1, 2] and user_version(db) == 2
    ReferenceEngine().migrate(db)  # and the next start simply carries on
    assert user_version(db) == 7


def test_foreign_key_violation_rolls_back_and_restores_enforcement(tmp_path: Path, db: Path) -> None:
    directory = tmp_path / "fk"
    directory.mkdir()
    (directory / "0001_parent_child.sql").write_text(
        "CREATE TABLE parent (id TEXT PRIMARY KEY);\n"
        "CREATE TABLE child (id TEXT PRIMARY KEY, parent_id TEXT REFERENCES parent (id));\n")
    (directory / "0002_orphan.sql").write_text(
        "-- reference: foreign_keys=off\nINSERT INTO child VALUES ('c', 'missing');\n")
    seen: list[int] = []

    class Watching(ReferenceEngine):
        def apply_migration(self, conn: sqlite3.Connection, migration: Migration) -> None:
            try:
                super().apply_migration(conn, migration)
            finally:
                seen.append(conn.execute("PRAGMA foreign_keys").fetchone()[0])

    with pytest.raises(StorageError) as refused:
        Watching(migrations_dir=directory).migrate(db)
    assert refused.value.code == MIGRATION_FK_VIOLATION
    assert seen == [1, 1]
    assert [r[0] for r in history(db)] == [1]
    assert query(db, "SELECT count(*) FROM child") == [(0,)]


# --- snapshots ----------------------------------------------------------------------------


def test_snapshot_taken_and_verified_before_migrating_data(engine: ReferenceEngine, db: Path) -> None:
    engine.migrate(db, 2)
    add_project(db, "p1")
    engine.migrate(db)
    (snapshot,) = (db.parent / "backups").iterdir()
    assert re.fullmatch(r"profile-\d{8}T\d{12}Z-000-v0002\.db", snapshot.name)
    assert engine.verify_snapshot(snapshot)
    assert query(snapshot, "SELECT id FROM talk_projects") == [("p1",)]
    assert query(snapshot, "SELECT max(version) FROM schema_migrations") == [(2,)]


def test_retention_keeps_the_newest_valid_snapshots(db: Path) -> None:
    engine = ReferenceEngine(snapshot_retention=2)
    engine.migrate(db, 1)
    add_project(db, "p1")
    for target in range(2, 8):
        engine.migrate(db, target)
    names = sorted(p.name for p in (db.parent / "backups").iterdir())
    assert [n[-8:] for n in names] == ["v0005.db", "v0006.db"]


def test_retention_does_not_count_rotten_snapshots(db: Path) -> None:
    engine = ReferenceEngine(snapshot_retention=2)
    engine.migrate(db, 1)
    add_project(db, "p1")
    for target in (2, 3):
        engine.migrate(db, target)
    newest = sorted((db.parent / "backups").iterdir())[-1]
    clobber_header(newest)
    engine.migrate(db, 4)
    names = sorted(p.name[-8:] for p in (db.parent / "backups").iterdir())
    assert names == ["v0001.db", "v0002.db", "v0003.db"]  # rotten v0002 kept aside, two valid


def test_snapshot_names_never_collide(db: Path) -> None:
    engine = ReferenceEngine(clock=pinned_clock)
    engine.migrate(db, 1)
    add_project(db, "p1")
    for target in (2, 3, 4):
        engine.migrate(db, target)
    names = sorted(p.name for p in (db.parent / "backups").iterdir())
    assert names == [
        "profile-20260228T120000123456Z-000-v0001.db",
        "profile-20260228T120000123456Z-001-v0002.db",
        "profile-20260228T120000123456Z-002-v0003.db",
    ]


def test_unverifiable_snapshot_is_set_aside_and_nothing_migrates(engine: ReferenceEngine, db: Path) -> None:
    class Distrustful(ReferenceEngine):
        def verify_snapshot(self, path: Path) -> bool:
            return False

    engine.migrate(db, 2)
    add_project(db, "p1")
    before = sha(db)
    with pytest.raises(StorageError) as refused:
        Distrustful().migrate(db)
    assert refused.value.code == SNAPSHOT_VERIFY_FAILED
    assert sha(db) == before and user_version(db) == 2
    (aside,) = (db.parent / "backups").iterdir()
    assert aside.name.endswith("-v0002.db.invalid")


# --- startup path -------------------------------------------------------------------------


def _head_with_snapshots(engine: ReferenceEngine, db: Path, *targets: int) -> None:
    """Head database with data, migrated 1 -> targets... -> head: a snapshot before each step."""
    engine.migrate(db, 1)
    add_project(db, "p1")
    for target in targets:
        engine.migrate(db, target)
    engine.migrate(db)


def test_open_creates_a_new_install(engine: ReferenceEngine, db: Path) -> None:
    engine.open(db)
    assert db.exists() and query(db, "PRAGMA journal_mode") == [("wal",)]
    assert query(db, "SELECT count(*) FROM sqlite_schema") == [(0,)]  # open never migrates


def test_open_on_a_healthy_database_moves_nothing(engine: ReferenceEngine, db: Path) -> None:
    _head_with_snapshots(engine, db)
    engine.open(db)
    assert not (db.parent / "corrupted").exists()
    assert user_version(db) == 7


def test_clobbered_header_is_quarantined_with_sidecars_and_restored(engine: ReferenceEngine, db: Path) -> None:
    _head_with_snapshots(engine, db, 6)
    leave_wal_behind(db, "INSERT INTO settings VALUES ('theme', 'dark')")
    clobber_header(db)
    evidence = {name: digest for name, digest in tree(db.parent).items() if name.startswith("profile.db")}
    assert set(evidence) == {"profile.db", "profile.db-wal", "profile.db-shm"}

    engine.open(db)

    (quarantine,) = (db.parent / "corrupted").iterdir()
    assert re.fullmatch(r"profile-\d{8}T\d{12}Z-0", quarantine.name)
    assert tree(quarantine) == evidence
    assert user_version(db) == 6  # the snapshot taken before 0007
    assert query(db, "SELECT id FROM talk_projects") == [("p1",)]
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert not (db.parent / "profile.db-wal").exists()


def test_corrupt_newest_snapshot_is_skipped_for_an_older_one(engine: ReferenceEngine, db: Path) -> None:
    _head_with_snapshots(engine, db, 3)
    older, newest = sorted((db.parent / "backups").iterdir())
    assert (older.name[-8:], newest.name[-8:]) == ("v0001.db", "v0003.db")
    clobber_header(newest)
    rotten = sha(newest)
    clobber_header(db)

    engine.open(db)

    assert user_version(db) == 1
    assert sha(newest) == rotten  # skipped, left in place
    assert engine.verify_snapshot(older)


def test_no_valid_snapshot_refuses_and_keeps_the_evidence(engine: ReferenceEngine, db: Path) -> None:
    engine.migrate(db)
    add_project(db, "p1")
    leave_wal_behind(db, "INSERT INTO settings VALUES ('k', 'v')")
    clobber_header(db)
    evidence = tree(db.parent)

    with pytest.raises(StorageError) as refused:
        engine.open(db)

    assert refused.value.code == DB_RECOVERY_NO_SNAPSHOT
    assert not db.exists()
    (quarantine,) = (db.parent / "corrupted").iterdir()
    assert tree(quarantine) == evidence


def test_two_corruptions_in_the_same_instant_get_two_directories(db: Path) -> None:
    engine = ReferenceEngine(clock=pinned_clock)
    contents = []
    for attempt in range(2):
        db.write_bytes(f"garbage #{attempt} ".encode() * 100)
        contents.append(sha(db))
        with pytest.raises(StorageError):
            engine.open(db)
    dirs = sorted((db.parent / "corrupted").iterdir())
    assert [d.name for d in dirs] == ["profile-20260228T120000123456Z-0", "profile-20260228T120000123456Z-1"]
    assert [sha(d / "profile.db") for d in dirs] == contents


def test_sidecars_without_database_are_quarantined_then_snapshot_restored(engine: ReferenceEngine, db: Path) -> None:
    _head_with_snapshots(engine, db, 3)
    leave_wal_behind(db, "INSERT INTO settings VALUES ('k', 'v')")
    wal = sha(db.with_name("profile.db-wal"))
    db.unlink()

    engine.open(db)

    (quarantine,) = (db.parent / "corrupted").iterdir()
    assert sorted(p.name for p in quarantine.iterdir()) == ["profile.db-shm", "profile.db-wal"]
    assert sha(quarantine / "profile.db-wal") == wal
    assert user_version(db) == 3


def test_sidecars_without_database_or_snapshot_start_fresh(engine: ReferenceEngine, db: Path) -> None:
    db.with_name("profile.db-journal").write_bytes(b"hot journal of a lost database")
    engine.open(db)
    assert db.exists()
    (quarantine,) = (db.parent / "corrupted").iterdir()
    assert [p.name for p in quarantine.iterdir()] == ["profile.db-journal"]


def test_locked_database_is_busy_not_corrupt(db: Path) -> None:
    engine = ReferenceEngine(busy_timeout_ms=50)
    write(db, "PRAGMA journal_mode = DELETE", "CREATE TABLE t (x)")  # a pre-WAL install
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO t VALUES (1)")
    before = tree(db.parent)
    with pytest.raises(StorageError) as refused:
        engine.open(db)
    assert refused.value.code == DB_BUSY
    assert tree(db.parent) == before
    holder.execute("ROLLBACK")
    holder.close()


def test_locked_database_refuses_migration_as_busy(db: Path) -> None:
    engine = ReferenceEngine(busy_timeout_ms=50)
    engine.migrate(db, 2)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    with pytest.raises(StorageError) as refused:
        engine.migrate(db)
    assert refused.value.code == DB_BUSY
    holder.execute("ROLLBACK")
    holder.close()
    assert user_version(db) == 2


def test_a_passing_read_error_is_rechecked_on_a_fresh_connection(db: Path) -> None:
    class Flaky(ReferenceEngine):
        failures = 1

        def apply_posture(self, conn: sqlite3.Connection) -> None:
            if self.failures:
                self.failures -= 1
                raise sqlite3.DatabaseError("database disk image is malformed")
            super().apply_posture(conn)

    ReferenceEngine().migrate(db)
    Flaky().open(db)
    assert not (db.parent / "corrupted").exists()


def test_storage_error_keeps_code_and_message_apart_and_pickles() -> None:
    error = StorageError(MIGRATION_GAP, "history records [1, 2, 4]: missing [3]")
    assert (error.code, str(error)) == (MIGRATION_GAP, "history records [1, 2, 4]: missing [3]")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.message) == (error.code, error.message)


@pytest.mark.parametrize(("code", "message", "expected"), [
    (5, "database is locked", DB_BUSY),
    (6, "database table is locked", DB_BUSY),
    (13, "database or disk is full", DB_FULL),
    (266, "disk I/O error", DB_IO_ERROR),  # SQLITE_IOERR_READ
    (11, "database disk image is malformed", DB_CORRUPT),
    (26, "file is not a database", DB_CORRUPT),
    (None, "database is locked", DB_BUSY),
    (None, "file is not a database", DB_CORRUPT),
])
def test_sqlite_errors_are_classified(code: int | None, message: str, expected: str) -> None:
    exc = sqlite3.OperationalError(message)
    if code is not None:
        exc.sqlite_errorcode = code
    assert classify(exc, "test").code == expected


# --- posture and diagnostics ----------------------------------------------------------------


def test_posture_is_applied_and_read_back(db: Path) -> None:
    assert ReferenceEngine().posture(db) == {
        "journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 5000,
    }
    assert ReferenceEngine(busy_timeout_ms=2500).posture(db)["busy_timeout"] == 2500


def test_posture_not_taking_effect_is_caught(db: Path) -> None:
    class Forgetful(ReferenceEngine):
        def apply_posture(self, conn: sqlite3.Connection) -> None:
            super().apply_posture(conn)
            conn.execute("PRAGMA foreign_keys = OFF")

    with pytest.raises(StorageError) as refused:
        Forgetful().connect(db)
    assert refused.value.code == DB_POSTURE_MISMATCH
    assert "foreign_keys" in refused.value.message


def test_diagnostics_reports_without_writing(engine: ReferenceEngine, db: Path) -> None:
    engine.migrate(db)
    write(db, "PRAGMA foreign_keys = OFF")
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("INSERT INTO runs (id, project_id, created_at) VALUES ('r', 'gone', 'x')")
    before = tree(db.parent)
    report = engine.diagnostics(db)
    assert (report.schema_version, report.applied_migrations, report.expected_migrations) == (7, 7, 7)
    assert (report.continuity, report.integrity, report.foreign_key_violations) == ("ok", "ok", 1)
    assert not report.clean
    assert tree(db.parent) == before


def test_diagnostics_of_a_corrupt_file_still_reports(engine: ReferenceEngine, db: Path) -> None:
    engine.migrate(db)
    clobber_header(db)
    before = tree(db.parent)
    report = engine.diagnostics(db)
    assert report.integrity != "ok" and "not a database" in report.integrity
    assert report.schema_version is None and not report.clean
    assert tree(db.parent) == before
    with pytest.raises(StorageError) as missing:
        engine.diagnostics(db.with_name("absent.db"))
    assert missing.value.code == DB_NOT_FOUND


def test_missing_database_with_a_valid_snapshot_is_restored_not_recreated(engine: ReferenceEngine, db: Path) -> None:
    # A crash (or power cut) between quarantine and restore leaves exactly this: no database,
    # the damaged one in corrupted/, a valid snapshot in backups/. The next start must finish
    # the recovery, not begin an empty database.
    _head_with_snapshots(engine, db, 3)
    db.unlink()
    engine.open(db)
    assert user_version(db) == 3
    assert not (db.parent / "corrupted").exists()


def test_missing_database_without_snapshots_is_a_new_install(engine: ReferenceEngine, db: Path) -> None:
    engine.open(db)
    assert db.exists() and user_version(db) == 0
