"""The migration lint: every rule red on a purpose-made migration, green on its correct twin."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from harness.engines.protocol import Migration
from harness.lint import RULES, SEVERITIES, Finding, lint, parse_version
from harness.reference import ReferenceEngine
from harness.sql import tokenize

SOURCE = "migrations/0003_change.sql"
LABEL = "0003_change"


def migration(sql: str | None, version: int = 3, name: str = "change", source: str = SOURCE) -> Migration:
    return Migration(version, name, "checksum", sql, source)


def findings(sql: str, **options: object) -> list[Finding]:
    return lint([migration(sql)], **options)


@dataclass(frozen=True)
class Case:
    id: str
    rule: str
    bad: str
    line: int  # of the finding on ``bad``
    good: str
    options: dict[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.id


REBUILD = (
    "CREATE TABLE runs_new (\n"
    "    id TEXT PRIMARY KEY,\n"
    "    audio_path TEXT\n"
    ");\n"
    "INSERT INTO runs_new (id, audio_path)\n"
    "SELECT id, audio_path FROM runs;\n"
    "DROP TABLE runs;\n"
    "ALTER TABLE runs_new RENAME TO runs;\n"
)  # DROP TABLE on line 7 of REBUILD

REVERSE_REBUILD = (
    "ALTER TABLE runs RENAME TO runs_old;\n"
    "CREATE TABLE runs (id TEXT PRIMARY KEY, audio_path TEXT);\n"
    "INSERT INTO runs (id, audio_path) SELECT id, audio_path FROM runs_old;\n"
    "DROP TABLE runs_old;\n"
)

CASES = [
    # 1. pragma-in-transaction
    Case("foreign-keys-off-in-wrapped-migration", "pragma-in-transaction",
         "-- Make audio optional.\nPRAGMA foreign_keys = OFF;\n" + REBUILD + "PRAGMA foreign_key_check;\n", 2,
         "-- reference: foreign_keys=off\nPRAGMA foreign_keys = OFF;\n" + REBUILD + "PRAGMA foreign_key_check;\n"),
    Case("foreign-keys-off-after-own-begin", "pragma-in-transaction",
         "BEGIN;\nPRAGMA foreign_keys = OFF;\n" + REBUILD + "PRAGMA foreign_key_check;\nCOMMIT;\n", 2,
         "PRAGMA foreign_keys = OFF;\nBEGIN;\n" + REBUILD
         + "PRAGMA foreign_key_check;\nCOMMIT;\nPRAGMA foreign_keys = ON;\n"),
    Case("foreign-keys-in-sqlx-no-transaction-file", "pragma-in-transaction",
         "-- Make audio optional.\nPRAGMA foreign_keys = OFF;\n" + REBUILD + "PRAGMA foreign_key_check;\n", 2,
         "-- no-transaction\nPRAGMA foreign_keys = OFF;\n" + REBUILD
         + "PRAGMA foreign_key_check;\nPRAGMA foreign_keys = ON;\n"),
    Case("journal-mode-wal", "pragma-in-transaction",
         "CREATE TABLE t (a);\nPRAGMA\n    main.journal_mode = WAL;\n", 2,
         "-- +goose Up\n-- +goose NO TRANSACTION\nCREATE TABLE t (a);\nPRAGMA main.journal_mode = WAL;\n"),
    Case("synchronous", "pragma-in-transaction",
         "CREATE TABLE t (a); PRAGMA synchronous = NORMAL;\n", 1,
         "-- migrate:up transaction:false\nCREATE TABLE t (a); PRAGMA synchronous = NORMAL;\n"),
    # 2. rebuild-without-fk-check
    Case("rebuild-drop-then-rename", "rebuild-without-fk-check",
         "-- SQLite cannot drop NOT NULL.\n" + REBUILD, 8,
         "-- SQLite cannot drop NOT NULL.\n" + REBUILD + "PRAGMA foreign_key_check;\n"),
    Case("rebuild-rename-old-then-create", "rebuild-without-fk-check",
         "\n" + REVERSE_REBUILD, 2,
         "\n" + REVERSE_REBUILD + "SELECT * FROM pragma_foreign_key_check;\n"),
    Case("rebuild-checked-only-before", "rebuild-without-fk-check",
         "PRAGMA foreign_key_check;\n" + REBUILD, 8,
         REBUILD + "PRAGMA main.foreign_key_check(runs);\n"),
    # 3. drop-column-version (SQL newer than min_sqlite)
    Case("drop-column", "drop-column-version",
         "CREATE TABLE t (a, b);\nALTER TABLE t\n    DROP COLUMN b;\n", 2,
         "CREATE TABLE t_new (a);\nINSERT INTO t_new SELECT a FROM t;\nDROP TABLE t;\n"
         "ALTER TABLE t_new RENAME TO t;\nPRAGMA foreign_key_check;\n"),
    Case("rename-column", "drop-column-version",
         "-- rename\nALTER TABLE t RENAME COLUMN a TO b;\n", 2,
         "-- rename\nCREATE TABLE t_new (b);\nINSERT INTO t_new SELECT a FROM t;\nDROP TABLE t;\n"
         "ALTER TABLE t_new RENAME TO t;\nPRAGMA foreign_key_check;\n",
         {"min_sqlite": "3.24.0"}),
    Case("returning", "drop-column-version",
         "-- seed\nINSERT INTO t (a) VALUES (1)\n    RETURNING a;\n", 2,
         "-- seed\nINSERT INTO t (a) VALUES (1);\n"),
    Case("strict-table", "drop-column-version",
         "CREATE TABLE t (\n    a INTEGER NOT NULL\n) STRICT;\n", 1,
         "CREATE TABLE t (\n    a INTEGER NOT NULL CHECK (typeof(a) = 'integer'),\n    strict INTEGER\n);\n"),
    Case("json-arrow", "drop-column-version",
         "CREATE INDEX i ON t (a);\nUPDATE t SET a = payload -> '$.a';\n", 2,
         "CREATE INDEX i ON t (a);\nUPDATE t SET a = json_quote(json_extract(payload, '$.a'));\n"),
    Case("json-double-arrow", "drop-column-version",
         "CREATE INDEX i ON t (a);\nUPDATE t SET a = payload->>'$.a';\n", 2,
         "CREATE INDEX i ON t (a);\nUPDATE t SET a = json_extract(payload, '$.a');\n"),
    Case("upsert", "drop-column-version",
         "-- default\nINSERT INTO settings (key, value) VALUES ('k', 'v')\n"
         "    ON CONFLICT (key) DO UPDATE SET value = excluded.value;\n", 2,
         "-- default\nINSERT OR IGNORE INTO settings (key, value) VALUES ('k', 'v');\n"
         "UPDATE settings SET value = 'v' WHERE key = 'k';\n"
         "CREATE TABLE u (k TEXT UNIQUE ON CONFLICT REPLACE);\n",
         {"min_sqlite": "3.23.0"}),
    Case("unixepoch", "drop-column-version",
         "ALTER TABLE t ADD COLUMN at INTEGER;\nUPDATE t SET at = unixepoch();\n", 2,
         "ALTER TABLE t ADD COLUMN at INTEGER;\nUPDATE t SET at = CAST(strftime('%s', 'now') AS INTEGER);\n"),
    Case("iif", "drop-column-version",
         "CREATE TABLE t (a);\nCREATE VIEW v AS\nSELECT iif(a > 0, 'pos', 'neg') AS sign FROM t;\n", 2,
         "CREATE TABLE t (a);\nCREATE VIEW v AS\nSELECT CASE WHEN a > 0 THEN 'pos' ELSE 'neg' END AS sign FROM t;\n"),
    Case("update-from", "drop-column-version",
         "-- numbers\nUPDATE t\nSET n = numbered.n\nFROM (SELECT id, 1 AS n FROM t) AS numbered\n"
         "WHERE numbered.id = t.id;\n", 2,
         "-- numbers\nUPDATE t\nSET n = (SELECT 1 FROM t AS o WHERE o.id = t.id)\nWHERE id IN (SELECT id FROM t);\n"),
    # 4. vacuum-in-transaction
    Case("vacuum-in-wrapped-migration", "vacuum-in-transaction",
         "DELETE FROM t;\nVACUUM;\n", 2,
         "-- no-transaction\nDELETE FROM t;\nVACUUM;\n"),
    Case("vacuum-before-own-commit", "vacuum-in-transaction",
         "BEGIN;\nDELETE FROM t;\nVACUUM;\nCOMMIT;\n", 3,
         "BEGIN;\nDELETE FROM t;\nCOMMIT;\nVACUUM;\n"),
    Case("vacuum-inside-savepoint", "vacuum-in-transaction",
         "SAVEPOINT cleanup;\nDELETE FROM t;\nVACUUM;\nRELEASE cleanup;\n", 3,
         "SAVEPOINT cleanup;\nDELETE FROM t;\nRELEASE SAVEPOINT cleanup;\nVACUUM;\n",
         {"wrapped": False}),
    # 5. not-null-without-default
    Case("not-null-no-default", "not-null-without-default",
         "-- archive flag\nALTER TABLE talk_projects\n    ADD COLUMN is_archived INTEGER NOT NULL;\n", 2,
         "-- archive flag\nALTER TABLE talk_projects\n    ADD COLUMN is_archived INTEGER NOT NULL DEFAULT 0"
         " CHECK (is_archived IN (0, 1));\n"),
    Case("not-null-default-null", "not-null-without-default",
         "ALTER TABLE t ADD note TEXT NOT NULL DEFAULT (NULL);\n", 1,
         "ALTER TABLE t ADD note TEXT NOT NULL DEFAULT '';\n"),
    Case("non-constant-default", "not-null-without-default",
         "CREATE TABLE u (a);\nALTER TABLE t ADD COLUMN created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP;\n", 2,
         "CREATE TABLE u (a);\nALTER TABLE t ADD COLUMN created_at TEXT NOT NULL DEFAULT '1970-01-01T00:00:00Z';\n"),
    Case("nullable-is-fine", "not-null-without-default",
         "ALTER TABLE t ADD COLUMN n INTEGER NOT NULL;\n", 1,
         "ALTER TABLE t ADD COLUMN n INTEGER CHECK (n IS NOT NULL OR 1);\n"),
    # 6. schema-history-touch
    Case("insert-history-row", "schema-history-touch",
         "CREATE TABLE t (a);\nINSERT INTO schema_migrations (version, name)\nVALUES (99, 'manual');\n", 2,
         "CREATE TABLE t (a);\nINSERT INTO t (a) SELECT version FROM schema_migrations;\n"),
    Case("trigger-writes-history", "schema-history-touch",
         "CREATE TABLE log (n);\nCREATE TRIGGER t AFTER INSERT ON log BEGIN\n"
         "    DELETE FROM \"_sqlx_migrations\" WHERE version = new.n;\nEND;\n", 2,
         "CREATE TABLE log (n);\nCREATE TRIGGER t AFTER INSERT ON _sqlx_migrations BEGIN\n"
         "    DELETE FROM log WHERE n = new.version;\nEND;\n"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_bad_migration_gives_exactly_one_finding(case: Case) -> None:
    found = findings(case.bad, **case.options)
    assert [(f.rule, f.line) for f in found] == [(case.rule, case.line)], found
    (finding,) = found
    assert finding.source == SOURCE
    assert finding.migration == LABEL
    assert finding.severity == SEVERITIES[case.rule]
    assert finding.runbook == f"lint-{case.rule}"
    assert finding.message and "\n" not in finding.message


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_corrected_migration_gives_none(case: Case) -> None:
    assert findings(case.good, **case.options) == []


def test_every_rule_has_a_case_a_description_and_a_severity() -> None:
    assert set(RULES) == {
        "pragma-in-transaction", "rebuild-without-fk-check", "drop-column-version",
        "vacuum-in-transaction", "not-null-without-default", "schema-history-touch",
    }
    assert {case.rule for case in CASES} == set(RULES)
    assert all(description and "\n" not in description for description in RULES.values())
    assert dict(SEVERITIES) == {
        "pragma-in-transaction": "error", "rebuild-without-fk-check": "warn",
        "drop-column-version": "error", "vacuum-in-transaction": "error",
        "not-null-without-default": "error", "schema-history-touch": "warn",
    }


# --- rule 1 / 4 details ----------------------------------------------------------------------


def test_foreign_keys_off_message_names_the_drop_that_runs_with_keys_on() -> None:
    (finding,) = findings("-- Make audio optional.\nPRAGMA foreign_keys = OFF;\n" + REBUILD
                          + "PRAGMA foreign_key_check;\n")
    assert "no-op" in finding.message and "DROP TABLE at line 9" in finding.message


def test_reading_a_pragma_inside_a_transaction_is_fine() -> None:
    assert findings("PRAGMA foreign_keys;\nPRAGMA journal_mode;\nPRAGMA synchronous;\n") == []


def test_an_unwrapped_runner_only_flags_the_files_own_transactions() -> None:
    sql = "PRAGMA foreign_keys = OFF;\nVACUUM;\nBEGIN IMMEDIATE;\nVACUUM;\nEND TRANSACTION;\nVACUUM;\n"
    assert [(f.rule, f.line) for f in findings(sql, wrapped=False)] == [("vacuum-in-transaction", 4)]
    sql = "PRAGMA foreign_keys = OFF;\nVACUUM;\n"
    assert findings(sql, wrapped=False) == []
    assert [f.line for f in findings(sql, wrapped=True)] == [1, 2]


def test_the_reference_marker_keeps_the_transaction_for_everything_but_foreign_keys() -> None:
    sql = "-- reference: foreign_keys=off\nPRAGMA foreign_keys = OFF;\nVACUUM;\nPRAGMA foreign_keys = ON;\n"
    assert [(f.rule, f.line) for f in findings(sql)] == [("vacuum-in-transaction", 3)]


def test_rollback_to_a_savepoint_does_not_end_the_transaction() -> None:
    sql = "BEGIN;\nSAVEPOINT s;\nROLLBACK TO s;\nVACUUM;\nROLLBACK;\nVACUUM;\n"
    assert [(f.rule, f.line) for f in findings(sql)] == [("vacuum-in-transaction", 4)]


def test_only_the_up_section_of_goose_and_dbmate_files_is_linted() -> None:
    goose = ("-- +goose Up\nALTER TABLE t ADD COLUMN n INTEGER;\n"
             "-- +goose Down\nALTER TABLE t DROP COLUMN n;\n")
    dbmate = ("-- migrate:up\nALTER TABLE t ADD COLUMN n INTEGER;\n"
              "-- migrate:down\nALTER TABLE t DROP COLUMN n;\n")
    assert findings(goose) == findings(dbmate) == []
    assert [f.line for f in findings(goose.replace("ADD COLUMN n INTEGER", "DROP COLUMN m"))] == [2]


@pytest.mark.parametrize("fmt, name, marker, head", [
    ("goose", "0002_fks.sql", "-- +goose NO TRANSACTION\n", "-- +goose Up\n"),  # marker before Up
    ("goose", "0002_fks.sql", "", "-- +goose Up\n-- +goose NO TRANSACTION\n"),
    ("dbmate", "20240101000002_fks.sql", "", "-- migrate:up transaction:false\n"),
    ("sqlx", "0002_fks.sql", "-- no-transaction\n", ""),
])
def test_lint_asks_the_format_whether_a_file_runs_in_a_transaction(
        tmp_path, fmt: str, name: str, marker: str, head: str) -> None:
    from harness.engines.sqlfiles import SqlFilesEngine

    tail = {"goose": "-- +goose Down\nSELECT 1;\n", "dbmate": "-- migrate:down\nSELECT 1;\n"}.get(fmt, "")
    first = name.replace("0002", "0001").replace("20240101000002", "20240101000001")
    up = {"goose": "-- +goose Up\n", "dbmate": "-- migrate:up\n"}.get(fmt, "")
    (tmp_path / first).write_text(up + "CREATE TABLE t (a);\n" + tail)
    body = "PRAGMA foreign_keys = OFF;\nCREATE TABLE u (a);\nPRAGMA foreign_keys = ON;\n"
    (tmp_path / name).write_text(marker + head + body + tail)
    migrations = SqlFilesEngine(tmp_path, fmt).migrations()
    assert [m.transaction for m in migrations] == [True, False]
    assert lint(migrations, wrapped=True) == []  # the framework runs the file outside a transaction
    wrapped_twin = (marker + head + body + tail).replace("-- +goose NO TRANSACTION\n", "").replace(
        " transaction:false", "").replace("-- no-transaction\n", "")
    (tmp_path / name).write_text(wrapped_twin)
    found = lint(SqlFilesEngine(tmp_path, fmt).migrations(), wrapped=False)
    first = wrapped_twin.splitlines().index("PRAGMA foreign_keys = OFF;") + 1
    assert [(f.rule, f.source, f.line) for f in found] == [  # lines of the file, not of its up section
        ("pragma-in-transaction", f"{tmp_path.name}/{name}", first),
        ("pragma-in-transaction", f"{tmp_path.name}/{name}", first + 2)]


# --- rule 2 details --------------------------------------------------------------------------


def test_a_runner_that_checks_foreign_keys_satisfies_the_rebuild_rule() -> None:
    assert [f.rule for f in findings(REBUILD)] == ["rebuild-without-fk-check"]
    assert findings(REBUILD, runner_checks_fks=True) == []


def test_several_rebuilds_in_one_migration_give_one_finding_at_the_first() -> None:
    second = REBUILD.replace("runs", "notes")
    (finding,) = findings(REBUILD + second)
    assert finding.line == 7 and "runs, notes" in finding.message


def test_a_plain_table_rename_or_drop_is_not_a_rebuild() -> None:
    assert findings("ALTER TABLE a RENAME TO b;\nDROP TABLE c;\nCREATE TABLE d (x);\n") == []


# --- rule 3 details --------------------------------------------------------------------------

FEATURES = [  # (sql, version it needs)
    ("ALTER TABLE t DROP COLUMN b;", "3.35.0"),
    ("ALTER TABLE t DROP b;", "3.35.0"),
    ("ALTER TABLE t RENAME COLUMN a TO b;", "3.25.0"),
    ("ALTER TABLE t RENAME a TO b;", "3.25.0"),
    ("DELETE FROM t WHERE a = 1 RETURNING *;", "3.35.0"),
    ("CREATE TABLE t (a INTEGER) STRICT, WITHOUT ROWID;", "3.37.0"),
    ("SELECT '{}' -> '$';", "3.38.0"),
    ("SELECT '{}' ->> '$';", "3.38.0"),
    ("INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING;", "3.24.0"),
    ("INSERT INTO t VALUES (1) ON CONFLICT DO UPDATE SET a = 2;", "3.35.0"),
    ("INSERT INTO t SELECT * FROM s WHERE true ON CONFLICT (a) DO NOTHING ON CONFLICT DO NOTHING;",
     "3.35.0"),
    ("SELECT unixepoch('now');", "3.38.0"),
    ("SELECT IIF(1, 2, 3);", "3.32.0"),
    ("UPDATE t SET a = s.a FROM s WHERE s.id = t.id;", "3.33.0"),
    ("SELECT row_number() OVER (ORDER BY a) FROM t;", "3.25.0"),
    ("SELECT count(*) FILTER (WHERE a > 0) FROM t;", "3.30.0"),
    ("SELECT a FROM t ORDER BY a NULLS LAST;", "3.30.0"),
    ("CREATE TABLE t (a INTEGER, b INTEGER GENERATED ALWAYS AS (a * 2) STORED);", "3.31.0"),
    ("CREATE TABLE t (a INTEGER, b AS (a * 2));", "3.31.0"),
    ("VACUUM INTO 'backup.db';", "3.27.0"),
    ("WITH c AS MATERIALIZED (SELECT 1) SELECT * FROM c;", "3.35.0"),
    ("SELECT * FROM a RIGHT OUTER JOIN b ON a.x = b.x;", "3.39.0"),
    ("SELECT * FROM a WHERE x IS NOT DISTINCT FROM y;", "3.39.0"),
]


def _below(version: str) -> str:
    major, minor, _ = parse_version(version)
    return f"{major}.{minor - 1}.99"


@pytest.mark.parametrize(("sql", "needed"), FEATURES, ids=[sql for sql, _ in FEATURES])
def test_each_feature_is_flagged_just_below_the_version_it_needs(sql: str, needed: str) -> None:
    found = findings(sql, min_sqlite=_below(needed), wrapped=False)
    assert found and {f.rule for f in found} == {"drop-column-version"}
    assert any(f"needs SQLite {needed}" in f.message for f in found)
    assert findings(sql, min_sqlite=needed, wrapped=False) == []


def test_older_syntax_that_looks_alike_is_not_flagged() -> None:
    sql = (
        "CREATE TABLE t (a INTEGER UNIQUE ON CONFLICT REPLACE, strict INTEGER, nulls TEXT);\n"
        "CREATE TABLE iif (x);\n"
        "CREATE INDEX i ON iif (x);\n"
        "WITH unixepoch(x) AS (SELECT 1) SELECT x FROM unixepoch;\n"
        "ALTER TABLE t RENAME TO u;\n"
        "INSERT OR REPLACE INTO u (a) VALUES (1);\n"
        "UPDATE u SET a = (SELECT max(x) FROM iif) WHERE a IN (SELECT x FROM iif);\n"
        "UPDATE u SET a = CASE WHEN a > 0 THEN 1 ELSE 0 END WHERE a IS NOT NULL;\n"
        "CREATE TRIGGER tr AFTER UPDATE OF a ON u BEGIN UPDATE iif SET x = new.a; END;\n"
        "CREATE TABLE c (p TEXT REFERENCES u (a) ON UPDATE CASCADE ON DELETE CASCADE);\n"
        "SELECT * FROM u LEFT JOIN c ON c.p = u.a;\n"
    )
    assert findings(sql, min_sqlite="3.8.0") == []


def test_the_oldest_supported_version_can_be_partial_and_must_be_a_version() -> None:
    assert parse_version("3.31") == (3, 31, 0)
    assert findings("ALTER TABLE t DROP COLUMN b;", min_sqlite="3.35") == []
    with pytest.raises(ValueError):
        findings("SELECT 1;", min_sqlite="latest")


# --- rule 5 details --------------------------------------------------------------------------


def test_add_column_message_carries_sqlites_own_words() -> None:
    (finding,) = findings("ALTER TABLE t ADD COLUMN n INTEGER NOT NULL;")
    assert "Cannot add a NOT NULL column with default value NULL" in finding.message
    assert "ALTER TABLE t ADD COLUMN n" in finding.message


def test_constant_defaults_in_every_form_are_accepted() -> None:
    sql = "".join(f"ALTER TABLE t ADD COLUMN c{i} NOT NULL DEFAULT {default};\n" for i, default in enumerate(
        ["0", "-1", "+2.5", "'x'", "x'00'", "TRUE", "(0)", "(-(1))", "('it''s')", "(CAST(1 AS TEXT))"]))
    assert findings(sql) == []


# --- tokens: literals and comments never trigger ---------------------------------------------


def test_keywords_inside_strings_identifiers_and_comments_never_trigger() -> None:
    sql = (
        "-- PRAGMA foreign_keys = OFF; VACUUM; ALTER TABLE t DROP COLUMN x;\n"
        "/* DROP TABLE runs; ALTER TABLE runs_new RENAME TO runs;\n"
        "   INSERT INTO schema_migrations VALUES (1); */\n"
        "CREATE TABLE notes (\"returning\" TEXT, [strict] TEXT, `iif` TEXT, body TEXT);\n"
        "INSERT INTO notes (body) VALUES ('PRAGMA foreign_keys = OFF; VACUUM;'),\n"
        "  ('ALTER TABLE t DROP COLUMN x; ALTER TABLE t RENAME COLUMN a TO b; DELETE FROM t RETURNING *'),\n"
        "  ('CREATE TABLE s (a) STRICT; SELECT a->>''$.x'', a -> ''$'', unixepoch(), iif(1, 2, 3)'),\n"
        "  ('INSERT INTO t VALUES (1) ON CONFLICT DO UPDATE SET a = 2; UPDATE t SET a = 1 FROM s'),\n"
        "  ('ALTER TABLE t ADD COLUMN c NOT NULL; INSERT INTO schema_migrations VALUES (2)');\n"
        "SELECT \"returning\", [strict], `iif` FROM notes; -- RETURNING iif( unixepoch( ->>\n"
    )
    assert findings(sql, min_sqlite="3.8.0") == []


def test_tokens() -> None:
    texts = [t.text for t in tokenize("x'ab' 1.5e-3 ?1 :a a->>'$.x' [odd] \"q\"\"x\" 0x1F -- c\n/* d */ ;")]
    assert texts == ["x'ab'", "1.5e-3", "?1", ":a", "a", "->>", "'$.x'", "[odd]", "\"q\"\"x\"", "0x1F", ";"]
    assert tokenize("\"q\"\"x\"")[0].name == 'q"x'


# --- line numbers, order, inputs -------------------------------------------------------------


def test_findings_point_at_each_statements_first_line_in_migration_order() -> None:
    first = migration("-- one\n\nCREATE TABLE a (x);  VACUUM;\n", version=1, name="one", source="m/1.sql")
    second = migration("/* two\n lines */\nALTER TABLE a\n  ADD COLUMN y\n  INTEGER NOT NULL;\n",
                       version=2, name="two", source="m/2.sql")
    found = lint([first, migration(None, version=3), second])
    assert [(f.migration, f.source, f.line, f.rule) for f in found] == [
        ("0001_one", "m/1.sql", 3, "vacuum-in-transaction"),
        ("0002_two", "m/2.sql", 3, "not-null-without-default"),
    ]


# --- the reference engine's own migrations ---------------------------------------------------

def test_the_reference_migrations_are_clean_down_to_sqlite_3_31() -> None:
    # 0004 once numbered talks with UPDATE … FROM (SQLite 3.33+); this lint found it and the
    # migration now uses a correlated count, which every supported SQLite accepts.
    assert lint(ReferenceEngine().migrations(), runner_checks_fks=True, min_sqlite="3.31.0") == []


def test_the_reference_rebuilds_rely_on_the_runners_foreign_key_check() -> None:
    found = lint(ReferenceEngine().migrations(), min_sqlite="3.31.0")
    assert [(f.rule, f.migration, f.line) for f in found] == [
        ("rebuild-without-fk-check", "0005_runs_audio_nullable", 15),
        ("rebuild-without-fk-check", "0007_fk_constraints", 72),
    ]
