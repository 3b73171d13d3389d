"""harness.fixtures.dump: deterministic SQL text that recreates a database exactly."""

from __future__ import annotations

import math
import sqlite3
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.fixtures.dump import dump, load, read_header
from harness.fixtures.generate import populate


def typed(conn: sqlite3.Connection, table: str) -> list[tuple]:
    """Every row with its rowid (when it has one), as (typeof, exact bytes) per value."""
    cols = [r[1] for r in conn.execute(f'PRAGMA table_xinfo("{table}")')]
    wr = conn.execute("SELECT wr FROM pragma_table_list WHERE name = ?", (table,)).fetchone()[0]
    exprs = ([] if wr else ["_rowid_"]) + [f'"{c}"' for c in cols]
    select = ", ".join(f"typeof({e}), CASE typeof({e}) WHEN 'text' THEN CAST({e} AS BLOB) ELSE {e} END" for e in exprs)
    out = []
    for row in conn.execute(f'SELECT {select} FROM "{table}" ORDER BY {", ".join(str(i + 1) for i in range(1, 2 * len(exprs), 2))}'):
        out.append(tuple((row[i], struct.pack("<d", row[i + 1]) if isinstance(row[i + 1], float) else row[i + 1])
                         for i in range(0, len(row), 2)))
    return out


def snapshot(conn: sqlite3.Connection) -> dict:
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {
        "tables": {t: typed(conn, t) for t in tables},
        "schema": conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name").fetchall(),
        "user_version": conn.execute("PRAGMA user_version").fetchone()[0],
        "application_id": conn.execute("PRAGMA application_id").fetchone()[0],
    }


def reload(text: str) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.executescript(text)
    return conn


def assert_round_trip(conn: sqlite3.Connection) -> str:
    text = dump(conn)
    text.encode("utf-8")  # strict: no surrogates in the file
    again = reload(text)
    assert dump(again) == text
    assert snapshot(again) == snapshot(conn)
    return text


values = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, -1, 2**63 - 1, -(2**63), 2**53 + 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([-0.0, 0.0, 5e-324, 1.7976931348623157e308, -2.2606631148481385e-299, 0.1, 1e16]),
    st.text(),
    st.text(st.sampled_from("a'\"\x00\n\r\t\u2028\u202e\ufeff\u200d é😀\\")),
    st.sampled_from(["", "''", "NULL", "char(0)", "X'00'", "--", ";", "\x00"]),
    st.binary(),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    rows=st.lists(st.tuples(values, values, values, values, values, values), max_size=8),
    keyed=st.lists(st.tuples(st.text(min_size=1, max_size=5), values), max_size=5, unique_by=lambda r: r[0]),
    user_version=st.integers(0, 2**31 - 1),
    raw_text=st.lists(st.binary(max_size=6), max_size=3),
)
def test_round_trip_property(rows, keyed, user_version, raw_text):
    conn = sqlite3.connect(":memory:")
    conn.executescript(f"""
        PRAGMA user_version = {user_version};
        CREATE TABLE t (a, b INTEGER, c REAL, d TEXT, e BLOB, f NUMERIC);
        CREATE TABLE k (key TEXT PRIMARY KEY, v) WITHOUT ROWID;
    """)
    conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", rows)
    conn.executemany("INSERT INTO k VALUES (?, ?)", keyed)
    for raw in raw_text:  # any bytes as TEXT: invalid UTF-8, lone surrogates, NUL
        conn.execute("INSERT INTO t(a, d) VALUES (CAST(? AS TEXT), CAST(? AS TEXT))", (raw, raw))
    conn.commit()
    text = assert_round_trip(conn)
    assert f"PRAGMA user_version={user_version};" in text


def test_awkward_values_are_exact_and_one_line_each():
    conn = sqlite3.connect(":memory:")
    conn.executescript("""
        CREATE TABLE t (a, b TEXT, c REAL, d INTEGER);
        INSERT INTO t VALUES (CAST(X'eda080' AS TEXT), CAST(X'ff41' AS TEXT), 9e999, -9223372036854775808);
        INSERT INTO t VALUES (-0.0, '', -9e999, 9223372036854775807);
    """)
    conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", [
        ("a\x00b", "line1\nline2\r\n", -2.2606631148481385e-299, None),
        (None, "x\u202ey\u2028z'q'", 5e-324, 0),
        (b"", "zo\u0308e 😀 שלום", float("nan"), 2**53 + 1),
        (b"\x00\xff", "\x00", 0.1, -1),
    ])
    conn.commit()
    text = assert_round_trip(conn)
    inserts = [line for line in text.splitlines() if line.startswith("INSERT INTO")]
    assert len(inserts) == 6
    assert "CAST(X'EDA080' AS TEXT)" in text and "CAST(X'FF41' AS TEXT)" in text
    assert "char(0)" in text and "char(10)" in text and "char(8238)" in text
    assert "\u202e" not in text and "\x00" not in text and "\r" not in text
    assert "9e999" in text and "-0.0" in text
    got = reload(text).execute("SELECT typeof(a), typeof(b), a IS NULL FROM t WHERE rowid = 5").fetchone()
    assert got == ("blob", "text", 0)


def test_schema_objects_sequence_and_rowids_are_restored():
    conn = sqlite3.connect(":memory:")
    conn.executescript("""
        PRAGMA user_version = 42;
        PRAGMA application_id = 1234;
        CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, price REAL);
        CREATE TABLE log (msg TEXT);
        CREATE TABLE plain (v);
        CREATE TABLE gen (x INTEGER, y INTEGER GENERATED ALWAYS AS (x * 2) STORED, z AS (x + 1));
        CREATE TABLE desc_pk (k INTEGER PRIMARY KEY DESC, v);
        CREATE TABLE shadowing ("rowid" TEXT, "oid" TEXT, "_rowid_" TEXT);
        CREATE INDEX cheap ON items(price) WHERE price < 10;
        CREATE VIEW expensive AS SELECT * FROM items WHERE price >= 10;
        CREATE TRIGGER items_log AFTER INSERT ON items BEGIN INSERT INTO log VALUES ('inserted ' || new.name); END;
        CREATE TRIGGER expensive_insert INSTEAD OF INSERT ON expensive BEGIN INSERT INTO items(name, price) VALUES (new.name, new.price); END;
    """)
    conn.executemany("INSERT INTO items(name, price) VALUES (?, ?)", [(f"n{i}", i * 2.5) for i in range(6)])
    conn.execute("DELETE FROM items WHERE id > 4")  # sqlite_sequence stays at 6
    conn.execute("INSERT INTO plain(rowid, v) VALUES (10, 'a'), (3, 'b'), (99, 'c')")
    conn.execute("INSERT INTO gen(x) VALUES (5)")
    conn.execute("INSERT INTO desc_pk(rowid, k, v) VALUES (50, 1, 'x'), (7, 2, 'y')")
    conn.execute("INSERT INTO shadowing VALUES ('r', 'o', '_')")
    conn.commit()
    conn.execute("ANALYZE")
    conn.commit()

    text = assert_round_trip(conn)
    assert text.index("PRAGMA user_version=42;") < text.index("BEGIN;") < text.index("COMMIT;")
    assert "PRAGMA application_id=1234;" in text
    # triggers come after the data, so loading does not fire them
    assert text.index("INSERT INTO \"log\"") < text.index("CREATE TRIGGER items_log")
    back = reload(text)
    assert back.execute("SELECT count(*) FROM log").fetchone()[0] == 6
    assert back.execute("SELECT seq FROM sqlite_sequence WHERE name = 'items'").fetchone()[0] == 6
    assert back.execute("SELECT rowid, v FROM plain ORDER BY rowid").fetchall() == [(3, "b"), (10, "a"), (99, "c")]
    assert back.execute("SELECT sql FROM sqlite_master WHERE name = 'cheap'").fetchone()[0].endswith("WHERE price < 10")
    assert back.execute("SELECT count(*) FROM sqlite_stat1").fetchone()[0] > 0
    back.execute("INSERT INTO items(name, price) VALUES ('next', 1)")
    assert back.execute("SELECT max(id) FROM items").fetchone()[0] == 7  # AUTOINCREMENT continues after 6
    back.execute("INSERT INTO expensive(name, price) VALUES ('via view', 100)")  # INSTEAD OF trigger works
    assert back.execute("SELECT name FROM expensive").fetchall() == [("via view",)]
    assert not any(line.startswith("CREATE TABLE sqlite_") for line in text.splitlines())


def test_header_lines():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a)")
    text = dump(conn, header={"app": "billing", "schema-version": "3", "seed": "17"})
    assert text.splitlines()[:3] == ["-- app: billing", "-- schema-version: 3", "-- seed: 17"]
    assert read_header(text) == {"app": "billing", "schema-version": "3", "seed": "17"}
    with pytest.raises(ValueError):
        dump(conn, header={"note": "two\nlines"})
    with pytest.raises(ValueError):
        dump(conn, header={"a:b": "x"})


def test_utf16_database_round_trips_including_a_lone_surrogate():
    conn = sqlite3.connect(":memory:")
    conn.executescript("PRAGMA encoding = 'UTF-16le'; CREATE TABLE t (a TEXT, b);")
    conn.execute("INSERT INTO t VALUES ('héllo 😀', CAST(X'00D8' AS TEXT))")  # U+D800 alone, little endian
    conn.commit()
    text = assert_round_trip(conn)
    assert "PRAGMA encoding='UTF-16le';" in text
    assert reload(text).execute("PRAGMA encoding").fetchone()[0] == "UTF-16le"


def test_generated_fixture_round_trips_through_a_file(tmp_path: Path):
    conn = sqlite3.connect(":memory:")
    conn.executescript("""
        PRAGMA user_version = 3;
        CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, bio TEXT, boss INTEGER REFERENCES users(id));
        CREATE TABLE posts (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL REFERENCES users(id),
                            body TEXT NOT NULL, score REAL, raw BLOB, posted_at TEXT);
        CREATE TABLE kv (k TEXT PRIMARY KEY, v ANY) STRICT, WITHOUT ROWID;
    """)
    populate(conn, seed=4, rows_per_table=30, orphans=True)
    text = dump(conn, header={"fixture": "v3"})
    dest = tmp_path / "fixture.db"
    load(text, dest)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fixture.db"]  # no temp or journal left
    with sqlite3.connect(dest) as back:
        assert dump(back, header={"fixture": "v3"}) == text
        assert snapshot(back) == snapshot(conn)
        assert back.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert back.execute("PRAGMA foreign_key_check").fetchall() != []  # the orphans survived
    back.close()
    with pytest.raises(FileExistsError):
        load(text, dest)


def test_load_failure_leaves_nothing_behind(tmp_path: Path):
    dest = tmp_path / "broken.db"
    with pytest.raises(sqlite3.Error):
        load("BEGIN;\nCREATE TABLE t (a);\nINSERT INTO nope VALUES (1);\nCOMMIT;\n", dest)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError):
        load("BEGIN;\nCREATE TABLE t (a);\n", dest)  # no COMMIT
    assert list(tmp_path.iterdir()) == []


def test_dump_does_not_disturb_the_connection():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a)")
    conn.execute("INSERT INTO t VALUES (CAST(X'eda080' AS TEXT))")
    conn.commit()
    conn.row_factory = sqlite3.Row
    conn.text_factory = bytes
    first = dump(conn)
    assert conn.row_factory is sqlite3.Row and conn.text_factory is bytes and not conn.in_transaction
    conn.row_factory = None
    conn.text_factory = str
    assert dump(conn) == first
    assert math.isfinite(1.0)
