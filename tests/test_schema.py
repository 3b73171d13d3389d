"""The normalised schema of a database and its readable diff.

Every difference kind is detected on a purpose-made pair, with the object named, and
equivalent schemas written or built differently produce no difference at all.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from harness.sqlite.files import db_digest
from harness.sqlite.schema import (
    Column,
    ForeignKey,
    IndexColumn,
    Schema,
    diff,
    normalise_sql,
    read,
    read_file,
)


def schema_of(script: str, **kw) -> Schema:
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(script)
        return read(conn, **kw)
    finally:
        conn.close()


def differences(fresh: str, upgraded: str, **kw) -> list[str]:
    return diff(schema_of(fresh), schema_of(upgraded), **kw)


# --------------------------------------------------------------------------- normalise_sql


@pytest.mark.parametrize(
    "a, b",
    [
        ('CREATE TABLE "runs"(x)', "create table runs ( x ) ;"),
        ("SELECT [a], `b`, \"c\" FROM t", "select a,b,c from t"),
        ("SELECT a  -- comment\n FROM /* c */ t;;", "SELECT a FROM t"),
        ("SELECT lower( a )FROM t WHERE a==1 AND b!=2", "SELECT LOWER(a) FROM t WHERE a = 1 AND b <> 2"),
        ("SELECT new.x, -1, (- 2)", "SELECT NEW.x, - 1, (-2)"),
        ("SELECT x'ab'", "SELECT X'AB'"),
    ],
)
def test_normalise_sql_equates_spellings(a: str, b: str) -> None:
    assert normalise_sql(a) == normalise_sql(b)


@pytest.mark.parametrize(
    "a, b",
    [
        ("SELECT 'a  b'", "SELECT 'a b'"),  # whitespace inside a string literal is data
        ("SELECT 'A'", "SELECT 'a'"),
        ("SELECT a FROM t", "SELECT b FROM t"),
        ("SELECT a + 1", "SELECT a - 1"),
        ('SELECT "My Col"', "SELECT MyCol"),
    ],
)
def test_normalise_sql_keeps_real_differences(a: str, b: str) -> None:
    assert normalise_sql(a) != normalise_sql(b)


def test_normalise_sql_spelling() -> None:
    assert normalise_sql(
        'create   TABLE "runs" ( [id] integer PRIMARY key, `note` text default \'a  b\', "order" int, "two words" int);;'
    ) == 'CREATE TABLE runs(id INTEGER PRIMARY KEY, note TEXT DEFAULT \'a  b\', "order" INT, "two words" INT)'
    assert normalise_sql("SELECT 'it''s'  ;") == "SELECT 'it''s'"
    assert normalise_sql(None) == ""
    assert normalise_sql('"a""b"') == '"a""b"'


# --------------------------------------------------------------------------- what is read


def test_read_reports_structure_from_pragmas() -> None:
    s = schema_of(
        """
        CREATE TABLE p(id INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT UNIQUE);
        CREATE TABLE t(
            a INT NOT NULL,
            b text COLLATE nocase DEFAULT ('x'),
            g INTEGER GENERATED ALWAYS AS (a + 1) STORED,
            pid INTEGER REFERENCES p(id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
            PRIMARY KEY (b, a),
            CHECK (a > 0)
        ) WITHOUT ROWID;
        CREATE TABLE s(x INTEGER) STRICT;
        CREATE INDEX i ON t(a DESC, lower(b)) WHERE a > 1;
        PRAGMA user_version = 4;
        """
    )
    assert s.user_version == 4
    assert s.tables["p"].autoincrement and not s.tables["t"].autoincrement
    assert s.tables["s"].strict and not s.tables["t"].strict
    t = s.tables["t"]
    assert t.without_rowid
    assert t.columns[0] == Column("a", "INT", True, None, 2, 0, None)
    assert t.columns[1] == Column("b", "TEXT", True, "'x'", 1, 0, "NOCASE")  # WITHOUT ROWID pk: NOT NULL
    assert t.columns[2].hidden == 3 and t.columns[2].generated == "a + 1"
    assert t.foreign_keys == (
        ForeignKey(("pid",), "p", ("id",), "NO ACTION", "SET NULL", "NONE", "DEFERRABLE INITIALLY DEFERRED"),
    )
    assert t.checks == ("CHECK (a > 0)",)
    i = s.indexes["i"]
    assert i.columns == (IndexColumn("a", None, True, "BINARY"), IndexColumn(None, "LOWER(b)", False, "BINARY"))
    assert i.partial == "a > 1" and i.origin == "c" and not i.unique
    assert set(s.indexes) == {"i", "p:unique(code)", "t:primary key(b,a)"}
    assert s.indexes["p:unique(code)"].unique and s.indexes["p:unique(code)"].origin == "u"


def test_exclude_tables_leaves_out_the_table_its_indexes_and_triggers() -> None:
    script = """
        CREATE TABLE app(x);
        CREATE TABLE schema_migrations(version TEXT UNIQUE);
        CREATE INDEX sm_v ON schema_migrations(version);
        CREATE TRIGGER sm_t AFTER INSERT ON schema_migrations BEGIN SELECT 1; END;
    """
    s = schema_of(script, exclude_tables=["Schema_Migrations"])
    assert set(s.tables) == {"app"} and s.indexes == {} and s.triggers == {}
    assert differences("CREATE TABLE app(x);", script) != []
    assert diff(schema_of("CREATE TABLE app(x);"), s) == []


def test_internal_and_shadow_tables_are_not_user_tables() -> None:
    s = schema_of(
        """
        CREATE TABLE a(id INTEGER PRIMARY KEY AUTOINCREMENT);
        INSERT INTO a DEFAULT VALUES;
        ANALYZE;
        CREATE VIRTUAL TABLE f USING fts5(body);
        """
    )
    assert set(s.tables) == {"a"}
    assert s.virtual == {"f": "CREATE VIRTUAL TABLE f USING fts5(body)"}


# --------------------------------------------------------------------------- equivalent schemas

TIDY = """
CREATE TABLE talk_projects(id INTEGER PRIMARY KEY, name TEXT NOT NULL COLLATE NOCASE, UNIQUE(name));
CREATE TABLE runs(
  id INTEGER PRIMARY KEY,
  project_id INTEGER NOT NULL REFERENCES talk_projects(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  audio_path TEXT NOT NULL,
  duration_ms INTEGER CHECK (duration_ms >= 0),
  is_training INTEGER NOT NULL DEFAULT 0,
  created TEXT DEFAULT (datetime('now')),
  label TEXT DEFAULT 'a  b',
  CONSTRAINT path_not_empty CHECK (audio_path <> '')
);
CREATE INDEX idx_runs_project_created ON runs(project_id, created DESC);
CREATE INDEX idx_runs_training ON runs(lower(audio_path)) WHERE is_training = 1;
CREATE TRIGGER runs_touch AFTER UPDATE OF audio_path ON runs FOR EACH ROW
  WHEN NEW.audio_path <> OLD.audio_path
  BEGIN UPDATE runs SET created = datetime('now') WHERE id = NEW.id; END;
CREATE VIEW training_runs AS
  SELECT r.id, p.name FROM runs AS r JOIN talk_projects AS p ON p.id = r.project_id WHERE r.is_training = 1;
CREATE VIRTUAL TABLE notes USING fts5(body);
PRAGMA user_version = 7;
"""

MESSY = """
create table "talk_projects" ( [id] integer primary key , `name` text not null collate NoCase , unique ( "name" ) ) ;
CREATE   TABLE runs (
   "id"  integer PRIMARY KEY,
   -- the project this run belongs to
   project_id integer not null references "talk_projects" ( "id" ) on delete cascade deferrable initially deferred,
   audio_path  TEXT  NOT NULL,
   duration_ms integer check(duration_ms>=0),
   is_training integer not null default 0,
   created text default (DATETIME( 'now' )),
   label text default 'a  b',
   constraint "path_not_empty" check ( audio_path != '' ) );
create index "idx_runs_project_created" on "runs" ( "project_id" , [created] desc );
create index idx_runs_training on runs ( LOWER ( audio_path ) ) where is_training==1;
create trigger runs_touch after update of audio_path on runs for each row when new.audio_path != old.audio_path
begin
  update runs set created = DATETIME('now') where id = new.id ;
end;
create view training_runs as select r.id, p.name
  from runs as r join talk_projects as p on p.id=r.project_id where r.is_training = 1;
create virtual table notes using FTS5 ( body );
pragma user_version = 7;
"""


def test_whitespace_case_and_quoting_do_not_matter() -> None:
    a, b = schema_of(TIDY), schema_of(MESSY)
    assert diff(a, b) == []
    assert diff(b, a) == []
    assert a == b


FRESH_RUNS = """
CREATE TABLE talk_projects(id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, name TEXT);
CREATE TABLE owners(id INTEGER PRIMARY KEY);
CREATE TABLE runs(
  id INTEGER PRIMARY KEY,
  project_id INTEGER NOT NULL REFERENCES talk_projects(id) ON DELETE CASCADE,
  owner_id INTEGER REFERENCES owners(id),
  audio_path TEXT NOT NULL,
  slot INTEGER,
  UNIQUE(project_id, slot),
  UNIQUE(audio_path)
);
CREATE INDEX idx_runs_project ON runs(project_id);
CREATE TRIGGER runs_ai AFTER INSERT ON runs BEGIN UPDATE talk_projects SET name = name WHERE id = NEW.project_id; END;
PRAGMA user_version = 2;
"""

LEGACY_THEN_12_STEP = """
CREATE TABLE talk_projects(id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, name TEXT);
CREATE TABLE owners(id INTEGER PRIMARY KEY);
CREATE TABLE runs(id INTEGER PRIMARY KEY, project_id INTEGER, audio_path TEXT, UNIQUE(audio_path));
CREATE INDEX idx_runs_project ON runs(project_id);
INSERT INTO talk_projects VALUES (1, 'p1', 'one');
INSERT INTO owners VALUES (1);
INSERT INTO runs VALUES (1, 1, 'a.wav'), (2, 1, 'b.wav');
PRAGMA user_version = 1;

PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE new_runs(
  id INTEGER PRIMARY KEY,
  project_id INTEGER NOT NULL,
  owner_id INTEGER,
  audio_path TEXT NOT NULL,
  slot INTEGER,
  UNIQUE(audio_path),
  UNIQUE(project_id, slot),
  FOREIGN KEY (owner_id) REFERENCES owners(id),
  FOREIGN KEY (project_id) REFERENCES talk_projects(id) ON DELETE CASCADE
);
INSERT INTO new_runs(id, project_id, audio_path) SELECT id, project_id, audio_path FROM runs;
DROP TABLE runs;
ALTER TABLE new_runs RENAME TO runs;
CREATE INDEX idx_runs_project ON runs(project_id);
CREATE TRIGGER runs_ai AFTER INSERT ON runs BEGIN UPDATE talk_projects SET name = name WHERE id = NEW.project_id; END;
PRAGMA user_version = 2;
COMMIT;
"""


def _auto_and_fk_ids(script: str) -> tuple[dict, dict]:
    conn = sqlite3.connect(":memory:")
    conn.executescript(script)
    auto = {
        name: tuple(r[2] for r in conn.execute("SELECT * FROM pragma_index_info(?)", (name,)))
        for (name,) in conn.execute("SELECT name FROM pragma_index_list('runs') WHERE origin = 'u'")
    }
    fk_ids = {r[3]: r[0] for r in conn.execute("SELECT * FROM pragma_foreign_key_list('runs')")}
    conn.close()
    return auto, fk_ids


def test_a_table_rebuilt_by_the_12_step_procedure_equals_the_fresh_one() -> None:
    # The pair really differs where a naive comparison would trip: autoindex numbering,
    # foreign key ids and the stored CREATE text.
    fresh_auto, fresh_fks = _auto_and_fk_ids(FRESH_RUNS)
    rebuilt_auto, rebuilt_fks = _auto_and_fk_ids(LEGACY_THEN_12_STEP)
    assert fresh_auto != rebuilt_auto and set(fresh_auto.values()) == set(rebuilt_auto.values())
    assert fresh_fks != rebuilt_fks and set(fresh_fks) == set(rebuilt_fks)

    fresh, rebuilt = schema_of(FRESH_RUNS), schema_of(LEGACY_THEN_12_STEP)
    assert diff(fresh, rebuilt) == []
    assert fresh == rebuilt  # foreign keys sorted, autoindexes keyed by content


@pytest.mark.parametrize(
    "a, b",
    [
        ("CREATE TABLE t(a INTEGER DEFAULT (0))", "CREATE TABLE t(a INTEGER DEFAULT 0)"),
        ("CREATE TABLE t(a TEXT COLLATE BINARY)", "CREATE TABLE t(a TEXT)"),
        ("CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE t(a REFERENCES p(id) DEFERRABLE INITIALLY IMMEDIATE)",
         "CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE t(a REFERENCES p(id) NOT DEFERRABLE)"),
        ("CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE t(a, FOREIGN KEY (a) REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED)",
         "CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE t(a REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED)"),
        ("CREATE TABLE t(a INTEGER, CHECK (a > 0))", "CREATE TABLE t(a INTEGER CHECK (a>0))"),
    ],
    ids=["default-parens", "collate-binary", "deferrable-immediate", "fk-table-vs-column-level", "check-level"],
)
def test_equivalent_spellings_of_constraints(a: str, b: str) -> None:
    assert differences(a, b) == []


def test_an_index_created_before_or_after_data_is_the_same() -> None:
    before = "CREATE TABLE t(a, b); CREATE INDEX i ON t(a, b); INSERT INTO t VALUES (1, 2), (3, 4);"
    after = "CREATE TABLE t(a, b); INSERT INTO t VALUES (1, 2), (3, 4); CREATE INDEX i ON t(a, b);"
    assert differences(before, after) == []


def test_a_column_added_by_alter_table_equals_one_created_at_the_end() -> None:
    fresh = "CREATE TABLE t(id INTEGER PRIMARY KEY, note TEXT NOT NULL DEFAULT '' CHECK (length(note) < 100));"
    legacy = (
        "CREATE TABLE t(id INTEGER PRIMARY KEY);"
        "ALTER TABLE t ADD COLUMN note TEXT NOT NULL DEFAULT '' CHECK (length(note) < 100);"
    )
    assert differences(fresh, legacy) == []


# --------------------------------------------------------------------------- each difference kind

RUNS = (
    "CREATE TABLE talk_projects(id INTEGER PRIMARY KEY, code TEXT UNIQUE);"
    "CREATE TABLE other(id INTEGER PRIMARY KEY);"
)

CASES = [
    pytest.param(
        "CREATE TABLE runs(id INTEGER PRIMARY KEY, duration_ms INTEGER);",
        "CREATE TABLE runs(id INTEGER PRIMARY KEY, duration_ms TEXT);",
        ["table runs: column duration_ms: type INTEGER in fresh install, TEXT in upgraded"],
        id="column-type",
    ),
    pytest.param(
        "CREATE TABLE runs(id INTEGER PRIMARY KEY, audio_path TEXT NOT NULL);",
        "CREATE TABLE runs(id INTEGER PRIMARY KEY, audio_path TEXT);",
        ["table runs: column audio_path: NOT NULL in fresh install, nullable in upgraded"],
        id="not-null",
    ),
    pytest.param(
        "CREATE TABLE runs(id INTEGER PRIMARY KEY, is_training INTEGER DEFAULT 0);",
        "CREATE TABLE runs(id INTEGER PRIMARY KEY, is_training INTEGER DEFAULT 1);",
        ["table runs: column is_training: default 0 in fresh install, 1 in upgraded"],
        id="default-value",
    ),
    pytest.param(
        "CREATE TABLE runs(id INTEGER PRIMARY KEY, created TEXT DEFAULT CURRENT_TIMESTAMP);",
        "CREATE TABLE runs(id INTEGER PRIMARY KEY, created TEXT);",
        ["table runs: column created: default CURRENT_TIMESTAMP in fresh install, none in upgraded"],
        id="default-missing",
    ),
    pytest.param(
        "CREATE TABLE t(a TEXT, b TEXT, PRIMARY KEY (a, b));",
        "CREATE TABLE t(a TEXT, b TEXT, PRIMARY KEY (b, a));",
        [
            "table t: primary key (a, b) in fresh install, (b, a) in upgraded",
            "index t:primary key(a,b): missing in upgraded",
            "index t:primary key(b,a): present in upgraded only",
        ],
        id="pk-order",
    ),
    pytest.param(
        "CREATE TABLE runs(id INTEGER PRIMARY KEY, project_id INTEGER, audio_path TEXT, created TEXT);",
        "CREATE TABLE runs(id INTEGER PRIMARY KEY, audio_path TEXT, project_id INTEGER, created TEXT);",
        ["table runs: column order differs: fresh install (id, project_id, …), upgraded (id, audio_path, …)"],
        id="column-order",
    ),
    pytest.param(
        "CREATE TABLE runs(id INTEGER PRIMARY KEY, a TEXT, b TEXT);",
        "CREATE TABLE runs(id INTEGER PRIMARY KEY, a TEXT);",
        ["table runs: column b: missing in upgraded"],
        id="missing-column",
    ),
    pytest.param(
        "CREATE TABLE runs(id INTEGER PRIMARY KEY);",
        "CREATE TABLE runs(id INTEGER PRIMARY KEY, legacy_flag INTEGER);",
        ["table runs: column legacy_flag: present in upgraded only"],
        id="extra-column",
    ),
    pytest.param(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE);",
        "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT);",
        ["table t: column name: collation NOCASE in fresh install, none in upgraded"],
        id="column-collation",
    ),
    pytest.param(
        "CREATE TABLE t(a INTEGER, b INTEGER GENERATED ALWAYS AS (a * 2) STORED);",
        "CREATE TABLE t(a INTEGER, b INTEGER GENERATED ALWAYS AS (a * 3) STORED);",
        ["table t: column b: generated AS (a * 2) STORED in fresh install, generated AS (a * 3) STORED in upgraded"],
        id="generated-expression",
    ),
    pytest.param(
        RUNS + "CREATE TABLE runs(id INTEGER PRIMARY KEY, project_id INTEGER REFERENCES talk_projects(id));",
        RUNS + "CREATE TABLE runs(id INTEGER PRIMARY KEY, project_id INTEGER REFERENCES other(id));",
        ["table runs: foreign key (project_id): target talk_projects(id) in fresh install, other(id) in upgraded"],
        id="fk-target-table",
    ),
    pytest.param(
        RUNS + "CREATE TABLE runs(id INTEGER PRIMARY KEY, project_id INTEGER REFERENCES talk_projects(id));",
        RUNS + "CREATE TABLE runs(id INTEGER PRIMARY KEY, project_id INTEGER REFERENCES talk_projects(code));",
        ["table runs: foreign key (project_id): target talk_projects(id) in fresh install, talk_projects(code) in upgraded"],
        id="fk-target-columns",
    ),
    pytest.param(
        RUNS + "CREATE TABLE runs(id INTEGER PRIMARY KEY, project_id INTEGER REFERENCES talk_projects(id) ON DELETE CASCADE);",
        RUNS + "CREATE TABLE runs(id INTEGER PRIMARY KEY, project_id INTEGER REFERENCES talk_projects(id));",
        ["table runs: foreign key (project_id): ON DELETE CASCADE in fresh install, NO ACTION in upgraded"],
        id="fk-on-delete",
    ),
    pytest.param(
        RUNS + "CREATE TABLE runs(id INTEGER PRIMARY KEY, project_id INTEGER REFERENCES talk_projects(id) ON UPDATE SET NULL);",
        RUNS + "CREATE TABLE runs(id INTEGER PRIMARY KEY, project_id INTEGER REFERENCES talk_projects(id) ON UPDATE RESTRICT);",
        ["table runs: foreign key (project_id): ON UPDATE SET NULL in fresh install, RESTRICT in upgraded"],
        id="fk-on-update",
    ),
    pytest.param(
        RUNS + "CREATE TABLE runs(id INTEGER PRIMARY KEY, project_id INTEGER REFERENCES talk_projects(id) DEFERRABLE INITIALLY DEFERRED);",
        RUNS + "CREATE TABLE runs(id INTEGER PRIMARY KEY, project_id INTEGER REFERENCES talk_projects(id) NOT DEFERRABLE);",
        ["table runs: foreign key (project_id): DEFERRABLE INITIALLY DEFERRED in fresh install, not deferred in upgraded"],
        id="fk-deferrable",
    ),
    pytest.param(
        RUNS + "CREATE TABLE runs(id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES talk_projects(id) ON DELETE CASCADE);",
        RUNS + "CREATE TABLE runs(id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL);",
        ["table runs: foreign key (project_id) -> talk_projects(id) ON DELETE CASCADE ON UPDATE NO ACTION missing in upgraded"],
        id="fk-missing",
    ),
    pytest.param(
        RUNS + "CREATE TABLE runs(id INTEGER PRIMARY KEY, project_id INTEGER);",
        RUNS + "CREATE TABLE runs(id INTEGER PRIMARY KEY, project_id INTEGER REFERENCES talk_projects);",
        ["table runs: foreign key (project_id) -> talk_projects ON DELETE NO ACTION ON UPDATE NO ACTION present in upgraded only"],
        id="fk-extra",
    ),
    pytest.param(
        "CREATE TABLE runs(project_id, created); CREATE INDEX idx_runs_project_created ON runs(project_id, created);",
        "CREATE TABLE runs(project_id, created);",
        ["index idx_runs_project_created: missing in upgraded"],
        id="missing-index",
    ),
    pytest.param(
        "CREATE TABLE runs(project_id, created);",
        "CREATE TABLE runs(project_id, created); CREATE INDEX idx_old ON runs(created);",
        ["index idx_old: present in upgraded only"],
        id="extra-index",
    ),
    pytest.param(
        "CREATE TABLE t(a, b); CREATE INDEX x ON t(a, b);",
        "CREATE TABLE t(a, b); CREATE INDEX x ON t(b, a);",
        ["index x: columns (a, b) in fresh install, (b, a) in upgraded"],
        id="index-column-order",
    ),
    pytest.param(
        "CREATE TABLE t(a, b); CREATE INDEX x ON t(a, b DESC);",
        "CREATE TABLE t(a, b); CREATE INDEX x ON t(a, b);",
        ["index x: columns (a, b DESC) in fresh install, (a, b) in upgraded"],
        id="index-desc",
    ),
    pytest.param(
        "CREATE TABLE t(a TEXT); CREATE INDEX x ON t(a COLLATE NOCASE);",
        "CREATE TABLE t(a TEXT); CREATE INDEX x ON t(a);",
        ["index x: columns (a COLLATE NOCASE) in fresh install, (a) in upgraded"],
        id="index-collation",
    ),
    pytest.param(
        "CREATE TABLE t(a); CREATE UNIQUE INDEX x ON t(a);",
        "CREATE TABLE t(a); CREATE INDEX x ON t(a);",
        ["index x: UNIQUE in fresh install, not in upgraded"],
        id="index-unique",
    ),
    pytest.param(
        "CREATE TABLE t(a, is_training); CREATE INDEX x ON t(a) WHERE is_training = 1;",
        "CREATE TABLE t(a, is_training); CREATE INDEX x ON t(a);",
        ["index x: partial WHERE is_training = 1 in fresh install, none in upgraded"],
        id="index-partial",
    ),
    pytest.param(
        "CREATE TABLE t(a, is_training); CREATE INDEX x ON t(a) WHERE is_training = 1;",
        "CREATE TABLE t(a, is_training); CREATE INDEX x ON t(a) WHERE is_training = 0;",
        ["index x: partial WHERE is_training = 1 in fresh install, WHERE is_training = 0 in upgraded"],
        id="index-partial-text",
    ),
    pytest.param(
        "CREATE TABLE t(name TEXT); CREATE INDEX x ON t(lower(name));",
        "CREATE TABLE t(name TEXT); CREATE INDEX x ON t(upper(name));",
        ["index x: columns (LOWER(name)) in fresh install, (UPPER(name)) in upgraded"],
        id="index-expression",
    ),
    pytest.param(
        "CREATE TABLE t(name TEXT); CREATE INDEX x ON t(lower(name));",
        "CREATE TABLE t(name TEXT); CREATE INDEX x ON t(name);",
        ["index x: columns (LOWER(name)) in fresh install, (name) in upgraded"],
        id="index-expression-vs-column",
    ),
    pytest.param(
        "CREATE TABLE t(a, b, UNIQUE(a, b));",
        "CREATE TABLE t(a, b);",
        ["index t:unique(a,b): missing in upgraded"],
        id="unique-constraint",
    ),
    pytest.param(
        "CREATE TABLE t(a, b); CREATE TABLE u(a, b); CREATE INDEX x ON t(a);",
        "CREATE TABLE t(a, b); CREATE TABLE u(a, b); CREATE INDEX x ON u(a);",
        ["index x: on table t in fresh install, u in upgraded"],
        id="index-table",
    ),
    pytest.param(
        "CREATE TABLE talk_projects(id INTEGER PRIMARY KEY, name TEXT) STRICT;",
        "CREATE TABLE talk_projects(id INTEGER PRIMARY KEY, name TEXT);",
        ["table talk_projects: STRICT in fresh install, not in upgraded"],
        id="strict",
    ),
    pytest.param(
        "CREATE TABLE kv(k TEXT NOT NULL PRIMARY KEY, v TEXT);",
        "CREATE TABLE kv(k TEXT NOT NULL PRIMARY KEY, v TEXT) WITHOUT ROWID;",
        ["table kv: WITHOUT ROWID in upgraded, not in fresh install"],
        id="without-rowid",
    ),
    pytest.param(
        "CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT);",
        "CREATE TABLE t(id INTEGER PRIMARY KEY);",
        ["table t: AUTOINCREMENT in fresh install, not in upgraded"],
        id="autoincrement",
    ),
    pytest.param(
        "CREATE TABLE runs(id INTEGER PRIMARY KEY, duration_ms INTEGER CHECK (duration_ms >= 0));",
        "CREATE TABLE runs(id INTEGER PRIMARY KEY, duration_ms INTEGER);",
        ["table runs: CHECK (duration_ms >= 0) missing in upgraded"],
        id="check-missing",
    ),
    pytest.param(
        "CREATE TABLE runs(id INTEGER PRIMARY KEY, d INTEGER, CHECK (d >= 0));",
        "CREATE TABLE runs(id INTEGER PRIMARY KEY, d INTEGER, CHECK (d > 0));",
        ["table runs: CHECK (d >= 0) missing in upgraded", "table runs: CHECK (d > 0) present in upgraded only"],
        id="check-changed",
    ),
    pytest.param(
        "CREATE TABLE t(a); PRAGMA user_version = 7;",
        "CREATE TABLE t(a); PRAGMA user_version = 6;",
        ["user_version: 7 in fresh install, 6 in upgraded"],
        id="user-version",
    ),
    pytest.param(
        "CREATE TABLE runs(a);",
        "CREATE TABLE runs(a); CREATE TABLE extra_thing(x);",
        ["table extra_thing: present in upgraded only"],
        id="extra-table",
    ),
    pytest.param(
        "CREATE TABLE runs(a); CREATE TABLE talk_projects(x);",
        "CREATE TABLE runs(a);",
        ["table talk_projects: missing in upgraded"],
        id="missing-table",
    ),
    pytest.param(
        "CREATE VIRTUAL TABLE notes USING fts5(body, title);",
        "CREATE VIRTUAL TABLE notes USING fts5(body);",
        ["virtual table notes: SQL differs: CREATE VIRTUAL TABLE notes USING fts5(body, title) in fresh install, "
         "CREATE VIRTUAL TABLE notes USING fts5(body) in upgraded"],
        id="virtual-table",
    ),
    pytest.param(
        "CREATE TABLE t(a); CREATE VIEW v AS SELECT a FROM t;",
        "CREATE TABLE t(a);",
        ["view v: missing in upgraded"],
        id="missing-view",
    ),
    pytest.param(
        "CREATE TABLE t(a); CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END;",
        "CREATE TABLE t(a);",
        ["trigger tr: missing in upgraded"],
        id="missing-trigger",
    ),
]


@pytest.mark.parametrize("fresh, upgraded, expected", CASES)
def test_each_difference_is_reported_naming_the_object(fresh: str, upgraded: str, expected: list[str]) -> None:
    a, b = schema_of(fresh), schema_of(upgraded)
    assert diff(a, b) == expected
    # the reverse direction also differs, and each side equals itself
    assert diff(b, a) != []
    assert diff(a, schema_of(fresh)) == [] and diff(b, schema_of(upgraded)) == []


def test_trigger_sql_difference_names_the_trigger_and_shows_a_compact_diff() -> None:
    base = "CREATE TABLE runs(id INTEGER PRIMARY KEY, n INTEGER); CREATE TABLE log(x);"
    fresh = base + (
        "CREATE TRIGGER runs_count AFTER INSERT ON runs WHEN NEW.n > 0 BEGIN "
        "INSERT INTO log VALUES (NEW.id); UPDATE runs SET n = n + 1 WHERE id = NEW.id; END;"
    )
    upgraded = base + (
        "CREATE TRIGGER runs_count AFTER INSERT ON runs WHEN NEW.n > 0 BEGIN "
        "INSERT INTO log VALUES (NEW.id); UPDATE runs SET n = n + 2 WHERE id = NEW.id; END;"
    )
    lines = differences(fresh, upgraded)
    assert len(lines) == 1
    head, *body = lines[0].split("\n")
    assert head == "trigger runs_count: SQL differs"
    assert "    --- fresh install" in body and "    +++ upgraded" in body
    assert "    -SET n = n + 1" in body and "    +SET n = n + 2" in body
    assert not any("INSERT INTO log" in line for line in body if line.lstrip()[:1] in "-+")


def test_view_sql_difference_names_the_view() -> None:
    base = "CREATE TABLE runs(id INTEGER PRIMARY KEY, is_training INTEGER);"
    lines = differences(
        base + "CREATE VIEW training AS SELECT id FROM runs WHERE is_training = 1;",
        base + "CREATE VIEW training AS SELECT id FROM runs WHERE is_training = 0;",
    )
    assert len(lines) == 1
    head, *body = lines[0].split("\n")
    assert head == "view training: SQL differs"
    assert "    -WHERE is_training = 1" in body and "    +WHERE is_training = 0" in body


def test_labels_and_deterministic_order() -> None:
    fresh = """
        CREATE TABLE b(x INTEGER NOT NULL);
        CREATE TABLE a(x INTEGER);
        CREATE INDEX ia ON a(x);
        CREATE VIEW v AS SELECT x FROM a;
        PRAGMA user_version = 3;
    """
    upgraded = """
        CREATE VIEW v AS SELECT x FROM b;
        CREATE TABLE a(x TEXT);
        CREATE TABLE b(x INTEGER);
        CREATE TABLE z(y);
        PRAGMA user_version = 2;
    """
    lines = differences(fresh, upgraded, expected_label="v3", actual_label="v1->v3")
    assert [line.split("\n")[0] for line in lines] == [
        "table a: column x: type INTEGER in v3, TEXT in v1->v3",
        "table b: column x: NOT NULL in v3, nullable in v1->v3",
        "table z: present in v1->v3 only",
        "index ia: missing in v1->v3",
        "view v: SQL differs",
        "user_version: 3 in v3, 2 in v1->v3",
    ]
    assert lines == differences(fresh, upgraded, expected_label="v3", actual_label="v1->v3")


# --------------------------------------------------------------------------- read_file touches nothing


def _files(directory: Path) -> dict[str, str]:
    return {p.name: p.read_bytes().hex() for p in sorted(directory.iterdir())}


def test_read_file_leaves_a_rollback_journal_db_untouched(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    conn = sqlite3.connect(db)
    conn.executescript("CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT); CREATE INDEX ib ON t(b); PRAGMA user_version = 5;")
    conn.close()
    before, files = db_digest(db), _files(tmp_path)
    s = read_file(db)
    assert set(s.tables) == {"t"} and s.user_version == 5 and set(s.indexes) == {"ib"}
    assert db_digest(db) == before and _files(tmp_path) == files


def test_read_file_leaves_a_wal_db_with_content_in_the_wal_untouched(tmp_path: Path) -> None:
    live = tmp_path / "live"
    snap = tmp_path / "snap"
    live.mkdir()
    snap.mkdir()
    db = live / "app.db"
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("CREATE TABLE base(a)")
    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    writer.execute("CREATE TABLE only_in_wal(x INTEGER NOT NULL)")
    writer.execute("PRAGMA user_version = 9")
    # what a crash leaves behind: the database, a -wal with committed content, the -shm
    for name in ("app.db", "app.db-wal", "app.db-shm"):
        shutil.copyfile(live / name, snap / name)
    writer.close()

    db = snap / "app.db"
    assert (snap / "app.db-wal").stat().st_size > 0
    before, files = db_digest(db), _files(snap)
    assert set(before) == {"app.db", "app.db-wal", "app.db-shm"}
    s = read_file(db)
    assert set(s.tables) == {"base", "only_in_wal"}  # the WAL's content was read
    assert s.user_version == 9
    assert db_digest(db) == before and _files(snap) == files
