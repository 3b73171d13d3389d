"""The naive suite: the hand-written pytest file teams write today, for comparison.

Parametrised over the fixture files; every test copies its fixture into ``tmp_path`` and
migrates it with a small hand-rolled runner (``executescript`` per file, then the history
row), then asserts one thing. Four tests per fixture mirror the harness's four matrix checks
the bench runs (upgrades, integrity, schema-converges, idempotent), so each test pays its
own copy and migration exactly as each harness case does. A session fixture makes the fresh
install the schema test compares with.
"""

from __future__ import annotations

import json
from pathlib import Path

SUITE = '''\
"""Upgrade tests for our legacy databases (written by bench/naive.py)."""
import glob
import hashlib
import os
import shutil
import sqlite3

import pytest

MIGRATIONS = sorted(glob.glob(os.path.join({migrations!r}, "*.sql")),
                    key=lambda p: int(os.path.basename(p).split("_")[0]))
FIXTURES = {fixtures}
HEAD = len(MIGRATIONS)


def migrate(path):
    conn = sqlite3.connect(path)
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                     "name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)")
        done = {{v for (v,) in conn.execute("SELECT version FROM schema_migrations")}}
        for file in MIGRATIONS:
            version = int(os.path.basename(file).split("_")[0])
            if version in done:
                continue
            with open(file, "rb") as handle:
                raw = handle.read()
            name = os.path.basename(file)[5:-4]
            conn.executescript("BEGIN;" + raw.decode() + ";" +
                               "INSERT INTO schema_migrations VALUES (%d, '%s', '%s', datetime('now'));COMMIT;"
                               % (version, name, hashlib.sha256(raw).hexdigest()))
    finally:
        conn.close()


def schema(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT type, name, sql FROM sqlite_master "
                            "WHERE name != 'schema_migrations' ORDER BY name").fetchall()
    finally:
        conn.close()


@pytest.fixture(scope="session")
def fresh_schema(tmp_path_factory):
    db = tmp_path_factory.mktemp("fresh") / "app.db"
    migrate(str(db))
    return schema(str(db))


@pytest.fixture(params=FIXTURES, ids=[os.path.basename(f) for f in FIXTURES])
def upgraded(request, tmp_path):
    db = str(tmp_path / "app.db")
    shutil.copy(request.param, db)
    migrate(db)
    return db


def test_upgrades_to_head(upgraded):
    conn = sqlite3.connect(upgraded)
    assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == HEAD
    conn.close()


def test_integrity(upgraded):
    conn = sqlite3.connect(upgraded)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()


def test_schema_matches_fresh_install(upgraded, fresh_schema):
    assert schema(upgraded) == fresh_schema


def test_migrating_again_is_a_no_op(upgraded):
    def snapshot():
        conn = sqlite3.connect(upgraded)
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        counts = {{t: conn.execute('SELECT count(*) FROM "%s"' % t).fetchone()[0] for t in tables}}
        conn.close()
        return schema(upgraded), counts
    before = snapshot()
    migrate(upgraded)
    assert snapshot() == before
'''


def write_suite(directory: Path, migrations: Path, fixtures: list[Path]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "test_upgrades.py"
    listing = json.dumps([str(p) for p in fixtures], indent=4)
    path.write_text(SUITE.format(migrations=str(migrations), fixtures=listing), encoding="utf-8")
    (directory / "conftest.py").write_text("", encoding="utf-8")
    return path


TESTS_PER_FIXTURE = 4
