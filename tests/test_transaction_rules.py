"""Transaction markers and rules (harness.engines.formats.markers), shared by the formats and lint."""

from __future__ import annotations

import pytest

from harness.engines.formats import markers
from harness.sql import pragma, split


@pytest.mark.parametrize("sql, expected", [
    ("PRAGMA foreign_keys = OFF;", ("foreign_keys", "OFF")),
    ("pragma main.\"Foreign_Keys\"=0", ("foreign_keys", "0")),
    ("PRAGMA [main] . journal_mode = 'wal' ;", ("journal_mode", "'wal'")),
    ("PRAGMA synchronous(NORMAL);", ("synchronous", "NORMAL")),
    ("PRAGMA table_info(\"t\")", ("table_info", '"t"')),
    ("PRAGMA foreign_keys;", ("foreign_keys", None)),
    ("PRAGMA foreign_keys /* = OFF */;", ("foreign_keys", None)),
    ("SELECT 'PRAGMA foreign_keys = OFF';", (None, None)),
    ("-- PRAGMA foreign_keys = OFF\nSELECT 1;", (None, None)),
])
def test_pragma_name_and_value(sql: str, expected: tuple[str | None, str | None]) -> None:
    statement, = split(sql)
    assert pragma(statement) == expected


def test_transaction_control() -> None:
    def controls(sql: str) -> bool:
        return markers.controls_transactions(split(sql))

    assert controls("BEGIN; SELECT 1; COMMIT;") and controls("END TRANSACTION;") and controls("rollback;")
    assert not controls("SAVEPOINT a; ROLLBACK TO a; ROLLBACK TRANSACTION TO SAVEPOINT a; RELEASE a;")
    assert not controls("CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END;")
    assert not controls("SELECT 'BEGIN'; -- COMMIT\n")


def test_what_cannot_be_wrapped() -> None:
    assert markers.cannot_be_wrapped(split("CREATE TABLE a(x);\nPRAGMA foreign_keys = OFF;"))
    assert markers.cannot_be_wrapped(split("VACUUM;")) and markers.cannot_be_wrapped(split("BEGIN; COMMIT;"))
    assert not markers.cannot_be_wrapped(split("PRAGMA user_version = 3; CREATE TABLE vacuum_log(x);"))


@pytest.mark.parametrize("text, out", [
    ("-- no-transaction\nVACUUM;", True),
    ("\n-- no-transaction\nVACUUM;", False),  # sqlx only reads the very start of the file
    ("\ufeff-- no-transaction\nVACUUM;", False),  # ... and a byte-order mark hides it
    ("-- +goose NO TRANSACTION\n-- +goose Up\nVACUUM;", True),
    ("-- +goose Up\n-- +goose no transaction\nVACUUM;", True),
    ("-- +goose Up\n  -- +goose NO TRANSACTION\nVACUUM;", False),  # goose refuses indented annotations
    ("-- migrate:up transaction:false\nVACUUM;\n-- migrate:down\n", True),
    ("-- migrate:up\nVACUUM; -- transaction:false\n-- migrate:down\n", False),
    ("VACUUM; -- no-transaction", False),
])
def test_markers_that_opt_out_of_the_transaction(text: str, out: bool) -> None:
    assert markers.opts_out_of_transaction(text) is out


def test_up_section_of_goose_and_dbmate_files() -> None:
    goose = "-- +goose Up\nCREATE TABLE a(x);\n-- +goose Down\nDROP TABLE a;\n"
    assert [s.line for s in markers.up_section(goose, split(goose))] == [2]
    dbmate = "-- migrate:up\nCREATE TABLE a(x);\nCREATE TABLE b(x);\n-- migrate:down\nDROP TABLE a;\n"
    assert [s.line for s in markers.up_section(dbmate, split(dbmate))] == [2, 3]
    plain = "CREATE TABLE a(x);\n-- a comment\nDROP TABLE a;\n"
    assert [s.line for s in markers.up_section(plain, split(plain))] == [1, 3]


def test_the_reference_engines_foreign_keys_off_line() -> None:
    assert markers.foreign_keys_off_first("\n  -- Reference: foreign_keys=off  \nPRAGMA foreign_keys = OFF;")
    assert not markers.foreign_keys_off_first("-- a\n-- reference: foreign_keys=off\n")
