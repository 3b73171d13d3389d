"""harness.fixtures.generate: schema-derived, seeded data for legacy fixture databases."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.fixtures.dump import dump
from harness.fixtures.generate import (
    PopulateError,
    affinity,
    column_strategy,
    populate,
    read_schema,
    row_strategy,
)

SCHEMA = """
PRAGMA user_version = 7;
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name VARCHAR(40) NOT NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'deleted')),
    age INTEGER CHECK (age IS NULL OR age BETWEEN 0 AND 150),
    score REAL CHECK (score >= 0),
    bio TEXT,
    avatar BLOB,
    manager_id INTEGER REFERENCES users(id),           -- self reference, nullable
    created_at TEXT NOT NULL,
    birth_date TEXT,
    is_admin BOOLEAN NOT NULL DEFAULT 0,
    code TEXT CHECK (length(code) <= 8),
    legacy
);
CREATE TABLE teams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    owner_id INTEGER NOT NULL REFERENCES users(id),
    budget NUMERIC(10,2) CHECK (budget > 0)
);
CREATE TABLE memberships (                               -- composite primary key
    user_id INTEGER NOT NULL REFERENCES users(id),
    team_id INTEGER NOT NULL REFERENCES teams(id),
    role TEXT NOT NULL CHECK (role IN ('member', 'lead')),
    joined_on TEXT,
    PRIMARY KEY (user_id, team_id)
);
CREATE TABLE tags (
    slug TEXT PRIMARY KEY CHECK (length(slug) BETWEEN 1 AND 30),
    label TEXT NOT NULL,
    weight INTEGER NOT NULL CHECK (weight >= 1 AND weight <= 10)
) WITHOUT ROWID;
CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    tag TEXT REFERENCES tags(slug),
    body TEXT NOT NULL,
    price REAL NOT NULL,
    counter INTEGER NOT NULL,
    payload BLOB,
    extra ANY
) STRICT;
CREATE TABLE audit (                                     -- legacy: an undeclared reference
    user_ref INTEGER,
    action TEXT NOT NULL,
    happened_at INTEGER NOT NULL
);
CREATE TABLE profile (                                   -- one-to-one, the key is the reference
    user_id INTEGER PRIMARY KEY REFERENCES users(id),
    motto TEXT,
    settings_json TEXT CHECK (json_valid(settings_json))
);
CREATE TABLE authors (                                   -- a cycle: authors <-> books
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    favourite_book INTEGER REFERENCES books(id)
);
CREATE TABLE books (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL REFERENCES authors(id),
    title TEXT NOT NULL
);
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
INSERT INTO schema_migrations VALUES (1, '2020-01-01 00:00:00');
CREATE INDEX notes_by_user ON notes(user_id);
CREATE UNIQUE INDEX teams_owner_budget ON teams(owner_id, budget) WHERE budget IS NOT NULL;
CREATE VIEW active_users AS SELECT id, email FROM users WHERE status = 'active';
CREATE TRIGGER notes_audit AFTER INSERT ON notes
BEGIN INSERT INTO audit(user_ref, action, happened_at) VALUES (new.user_id, 'note', 0); END;
"""

IMPLICIT = {"audit": [("user_ref", "users", "id")]}
FILLED = ["users", "teams", "memberships", "tags", "notes", "audit", "profile", "authors", "books"]
WITH_DECLARED_FKS = {"users", "teams", "memberships", "notes", "profile", "authors", "books"}


def fresh(schema: str = SCHEMA) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.executescript(schema)
    return conn


def built(seed: int, **kw) -> tuple[sqlite3.Connection, dict]:
    conn = fresh()
    result = populate(conn, seed=seed, skip_tables={"schema_migrations"}, implicit_fks=IMPLICIT, **kw)
    return conn, result


def count(conn: sqlite3.Connection, table: str) -> int:
    return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def all_values(conn: sqlite3.Connection):
    for table in FILLED:
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        for row in conn.execute(f"SELECT {', '.join(cols)} FROM {table}"):
            yield from row


def test_affinity_rules():
    assert affinity("INTEGER") == affinity("BIGINT") == affinity("tinyint") == "INTEGER"
    assert affinity("VARCHAR(40)") == affinity("CLOB") == affinity("text") == "TEXT"
    assert affinity("BLOB") == affinity("") == affinity(None) == "BLOB"
    assert affinity("DOUBLE PRECISION") == affinity("FLOAT") == affinity("REAL") == "REAL"
    assert affinity("NUMERIC(10,2)") == affinity("BOOLEAN") == affinity("DATETIME") == "NUMERIC"
    assert affinity("CHARINT") == "INTEGER"  # INT wins, rule order matters


def test_schema_is_read_from_pragmas_and_checks():
    conn = fresh()
    schema = read_schema(conn, implicit_fks=IMPLICIT, skip_tables={"schema_migrations"})
    assert list(schema) == FILLED  # creation order, skip honoured
    users, tags, notes = schema["users"], schema["tags"], schema["notes"]
    assert users.rowid_alias == "id" and users.rowid_name is None
    assert tags.without_rowid and tags.rowid_alias is None and tags.rowid_name is None
    assert notes.strict and notes.column("extra").affinity == "ANY"
    assert schema["audit"].rowid_name == "rowid"
    assert users.column("status").rules.choices == ("active", "suspended", "deleted")
    age = users.column("age").rules
    assert (age.lo, age.hi) == (0, 150) and not age.notnull
    assert users.column("code").rules.len_hi == 8
    assert tags.column("slug").rules.len_lo == 1 and tags.column("slug").rules.len_hi == 30
    assert (tags.column("weight").rules.lo, tags.column("weight").rules.hi) == (1, 10)
    assert schema["profile"].column("settings_json").rules.json
    email_uk = [uk for uk in users.uniques if uk.columns == ("email",)]
    assert email_uk and email_uk[0].collations == ("NOCASE",)
    assert any(fk.parent == "users" and fk.columns == ("manager_id",) for fk in users.fks)
    assert [(fk.columns, fk.parent, fk.declared) for fk in schema["audit"].fks] == [(("user_ref",), "users", False)]
    assert schema["profile"].fks[0].parent_columns == ("id",)


def test_populate_respects_the_schema():
    conn, result = built(1, rows_per_table={"tags": 25, "books": 60})
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert result.failed == {} and result.orphans == {}
    expected = {t: 40 for t in FILLED} | {"tags": 25, "books": 60}
    assert dict(result) == expected
    for table in ("users", "teams", "memberships", "tags", "notes", "profile", "authors", "books"):
        assert count(conn, table) == expected[table], table
    assert count(conn, "audit") == 40 + 40  # its own rows plus one per note from the trigger
    assert count(conn, "schema_migrations") == 1  # skipped: left as the migrations wrote it

    values = list(all_values(conn))
    texts = [v for v in values if isinstance(v, str)]
    assert any(not v.isascii() for v in texts)
    assert any(len(v.encode("utf-8")) > 4096 for v in texts)
    assert None in values
    assert any(isinstance(v, bytes) for v in values)
    # the implicit reference is honoured like a declared one
    dangling = conn.execute(
        "SELECT count(*) FROM audit WHERE action <> 'note' AND user_ref IS NOT NULL "
        "AND user_ref NOT IN (SELECT id FROM users)").fetchone()[0]
    assert dangling == 0
    # nullable self reference and nullable FK: some NULL, some pointing somewhere
    assert conn.execute("SELECT count(*) FROM users WHERE manager_id IS NULL").fetchone()[0] > 0
    assert conn.execute("SELECT count(*) FROM users WHERE manager_id IS NOT NULL").fetchone()[0] > 0
    assert conn.execute("SELECT count(*) FROM notes WHERE user_id IS NULL").fetchone()[0] > 0
    # the cycle was closed afterwards: most favourite books point at real books
    assert conn.execute("SELECT count(*) FROM authors WHERE favourite_book IS NOT NULL").fetchone()[0] > 20
    # timestamps by name and typed by affinity
    assert conn.execute("SELECT count(*) FROM users WHERE created_at NOT GLOB '[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]*'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM audit WHERE typeof(happened_at) <> 'integer'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM profile WHERE settings_json IS NOT NULL AND NOT json_valid(settings_json)").fetchone()[0] == 0
    # keys assigned explicitly, continuing after what was there
    assert conn.execute("SELECT min(id) FROM users").fetchone()[0] == 1


def test_same_seed_same_content_other_seed_other_content():
    a, _ = built(11)
    b, _ = built(11)
    c, _ = built(12)
    assert dump(a) == dump(b)
    assert dump(a) != dump(c)


def test_determinism_does_not_depend_on_the_process(tmp_path: Path):
    """Another interpreter, another hash seed, other modules imported: same bytes."""
    code = (
        "import hashlib, sqlite3, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from harness.fixtures.generate import populate\n"
        "from harness.fixtures.dump import dump\n"
        "c = sqlite3.connect(':memory:'); c.executescript(sys.stdin.read())\n"
        "populate(c, seed=5, skip_tables={'schema_migrations'}, implicit_fks={'audit': [('user_ref', 'users', 'id')]})\n"
        "print(hashlib.sha256(dump(c).encode()).hexdigest())\n"
    )
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code, root], input=SCHEMA, capture_output=True, text=True,
                         env=env, check=True, cwd=tmp_path).stdout.strip()
    here, _ = built(5)
    assert out == hashlib.sha256(dump(here).encode()).hexdigest()


def test_orphans_point_at_missing_parents_and_fk_setting_is_restored():
    conn = fresh()
    conn.execute("PRAGMA foreign_keys = ON")
    result = populate(conn, seed=3, orphans=True, skip_tables={"schema_migrations"}, implicit_fks=IMPLICIT)
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    violations = conn.execute("PRAGMA foreign_key_check").fetchall()
    assert violations
    assert {v[0] for v in violations} == WITH_DECLARED_FKS
    assert set(result.orphans) == WITH_DECLARED_FKS | {"audit"}
    assert result["users"] == 40 + result.orphans["users"]
    # undeclared reference: the orphans exist although foreign_key_check cannot see them
    assert conn.execute(
        "SELECT count(*) FROM audit WHERE user_ref IS NOT NULL AND user_ref NOT IN (SELECT id FROM users)"
    ).fetchone()[0] >= 2
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_existing_rows_are_kept_and_never_collided_with():
    conn = fresh()
    conn.execute("INSERT INTO users(id, email, display_name, created_at) VALUES (7, 'Seed@Example.com', 'seed', '2020-01-01')")
    conn.execute("INSERT INTO tags(slug, label, weight) VALUES ('general', 'General', 1)")
    conn.commit()
    result = populate(conn, seed=9, rows_per_table=30, skip_tables={"schema_migrations"})
    assert result.failed == {}
    assert count(conn, "users") == 31 and count(conn, "tags") == 31
    assert conn.execute("SELECT min(id) FROM users WHERE id <> 7").fetchone()[0] == 8
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_rows_that_cannot_exist_are_counted_not_dropped():
    conn = fresh("CREATE TABLE flags (v TEXT NOT NULL UNIQUE CHECK (v IN ('a', 'b')));"
                 "CREATE TABLE child (p INTEGER NOT NULL REFERENCES parent(id));"
                 "CREATE TABLE parent (id INTEGER PRIMARY KEY);")
    result = populate(conn, seed=1, rows_per_table={"flags": 5, "child": 3, "parent": 0})
    assert result["flags"] == 2 and result.failed["flags"] == 3
    assert result["child"] == 0 and result.failed["child"] == 3
    assert result.errors["flags"] and result.errors["child"]
    with pytest.raises(PopulateError):
        populate(fresh("CREATE TABLE flags (v TEXT NOT NULL UNIQUE CHECK (v IN ('a', 'b')));"),
                 seed=1, rows_per_table=5, strict=True)


def test_unparsed_checks_fall_back_to_retry():
    conn = fresh("CREATE TABLE spans (start_at INTEGER NOT NULL, end_at INTEGER NOT NULL,"
                 " label TEXT NOT NULL CHECK (label NOT LIKE '%x%'), CHECK (end_at >= start_at));")
    result = populate(conn, seed=2, rows_per_table=40)
    assert result["spans"] == 40 and not result.failed
    assert conn.execute("SELECT count(*) FROM spans WHERE end_at < start_at OR label LIKE '%x%'").fetchone()[0] == 0


def test_one_transaction_and_rollback_on_error():
    conn = fresh("CREATE TABLE t (a INTEGER);")
    conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(RuntimeError):
        populate(conn, seed=1)  # the caller's transaction is still open
    conn.commit()
    changes = conn.total_changes
    populate(conn, seed=1, rows_per_table=10)
    assert conn.total_changes == changes + 10 and not conn.in_transaction


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_row_strategy_yields_rows_the_schema_accepts(data):
    conn = fresh()
    schema = read_schema(conn)
    name = data.draw(st.sampled_from(["users", "tags", "notes", "profile", "teams"]))
    table = schema[name]
    row = data.draw(row_strategy(table))
    cols = list(row)
    conn.execute(f"INSERT INTO {name}({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                 [row[c] for c in cols])  # foreign_keys is off: only CHECK/NOT NULL/STRICT apply


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_column_strategy_respects_bounds(data):
    conn = fresh()
    users = read_schema(conn)["users"]
    assert data.draw(column_strategy(users.column("status"))) in ("active", "suspended", "deleted")
    age = data.draw(column_strategy(users.column("age")))
    assert age is None or 0 <= age <= 150
    code = data.draw(column_strategy(users.column("code")))
    assert code is None or len(code) <= 8
    assert data.draw(column_strategy(users.column("email"))) is not None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_coverage_is_planned_not_left_to_luck(seed):
    """Six rows are enough for NULL, non-ASCII, > 4 KiB, empty and quoting cases in one column."""
    conn = fresh("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT, n INTEGER NOT NULL);")
    assert populate(conn, seed=seed, rows_per_table=6)["t"] == 6
    bodies = [r[0] for r in conn.execute("SELECT body FROM t")]
    texts = [b for b in bodies if b is not None]
    assert None in bodies and "" in texts
    assert any(not b.isascii() for b in texts)
    assert any(len(b.encode("utf-8")) > 4096 for b in texts)
    numbers = [r[0] for r in conn.execute("SELECT n FROM t")]
    assert set(numbers) & {0, 1, -1, 2**31 - 1, -(2**31), 2**32, 2**53 + 1, 2**63 - 1, -(2**63)}
