"""goose: ``<int>_<name>.sql`` with ``-- +goose Up`` and ``-- +goose Down`` sections.

Source: pressly/goose, ``migration.go`` (``NumericComponent``: the version is the integer
before the first ``_``, greater than zero), ``internal/sqlparser/parser.go`` (the line-based
state machine this module follows: a statement ends on a line whose last word before any
``--`` ends with ``;``; ``-- +goose StatementBegin`` .. ``StatementEnd`` make one statement of
their content; ``-- +goose NO TRANSACTION`` runs the file outside a transaction; the file must
start with ``-- +goose Up``), ``internal/dialects/sqlite3.go`` (table DDL and insert) and
``migrate.go`` (a new table gets a version-0 row). The statements and the version row run in
one transaction. goose records no checksum and no name.

Each goose statement is handed to the driver whole, and mattn/go-sqlite3 runs every SQL
statement in it; the harness does the same by splitting each one with SQLite's tokenizer.
``ENVSUB ON`` is accepted, but nothing is substituted.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from harness.engines.formats.base import Format, MigrationFile, Recognised, decode, shifted
from harness.engines.formats.history import History, HistoryRow, Layout
from harness.engines.formats.markers import goose_up
from harness.engines.statements import Statement, split
from harness.errors import InputError

PATTERN = re.compile(r"^(?P<version>\d+)_(?P<name>.*)\.sql$")
GO_FILE = re.compile(r"^\d+_.*\.go$")

_START, _UP, _BEGIN_UP, _END_UP, _DOWN, _BEGIN_DOWN, _END_DOWN = range(7)
_ANNOTATIONS = {a.lower(): a for a in ("Up", "Down", "StatementBegin", "StatementEnd", "NO TRANSACTION",
                                       "ENVSUB ON", "ENVSUB OFF")}


class GooseHistory(History):
    layout = Layout("goose_db_version", "version_id", applied_at="tstamp", success="is_applied", order="id",
                    where="version_id > 0")
    create = ("CREATE TABLE goose_db_version (\n"
              "\t\tid INTEGER PRIMARY KEY AUTOINCREMENT,\n"
              "\t\tversion_id INTEGER NOT NULL,\n"
              "\t\tis_applied INTEGER NOT NULL,\n"
              "\t\ttstamp TIMESTAMP DEFAULT (datetime('now'))\n"
              "\t)",
              "INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, 1)")

    def interpret(self, rows: tuple[HistoryRow, ...]) -> tuple[HistoryRow, ...]:
        applied: dict[object, HistoryRow] = {}  # ordered: a row with is_applied = 0 (old goose down) removes
        for row in rows:
            if row.success:
                applied[row.version] = row
            else:
                applied.pop(row.version, None)
        return tuple(applied.values())

    def record(self, conn: sqlite3.Connection, migration: MigrationFile, seconds: float) -> None:
        conn.execute("INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, ?)", (migration.version, True))


class Goose(Format):
    name = "goose"
    pattern_text = "<int>_<name>.sql with -- +goose Up"
    has_checksums = False
    history = GooseHistory()

    def recognise(self, filename: str) -> Recognised | None:
        match = PATTERN.match(filename)
        if not match:
            if GO_FILE.match(filename):
                return Recognised((0,), "", filename, "skip",
                                  "goose Go migration: the sqlfiles adapter cannot run it")
            return None
        version = int(match["version"])
        if version < 1:
            return Recognised((0,), match["version"], match["name"], "skip",
                              "goose versions must be greater than zero")
        return Recognised((version,), str(version), match["name"])

    def claims(self, filename: str, text: str) -> bool:
        return bool(PATTERN.match(filename)) and goose_up(text)

    def discover(self, directory: Path):  # type: ignore[no-untyped-def]
        discovery = super().discover(directory)
        go_files = [n for n in discovery.notes if "goose Go migration" in n]
        if go_files:
            raise InputError(directory, f"goose Go migrations cannot be run by the sqlfiles adapter: "
                                        f"{', '.join(n.split(':')[0] for n in go_files)}", key="engine.directory")
        return discovery

    def load(self, path: Path, raw: bytes, found: Recognised, version: int) -> MigrationFile:
        text = decode(path, raw)
        statements, use_tx, up_text = parse(path, text)
        return MigrationFile(version, found.name, path, "", up_text, transaction=use_tx, parsed=statements)


def parse(path: Path, text: str) -> tuple[tuple[Statement, ...], bool, str]:
    """The up statements (with their lines), whether they run in a transaction, the up text."""

    def fail(problem: str, line: int | None = None) -> InputError:
        return InputError(path, f"goose cannot parse it: {problem}", line=line)

    state = _START
    use_tx = True
    buffer: list[str] = []
    buffer_line = 0
    chunks: list[Statement] = []
    up_lines: list[str] = []
    for number, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")  # bufio.ScanLines drops a trailing CR
        if state in (_UP, _BEGIN_UP, _END_UP) and not _is_annotation(line, "Down"):
            up_lines.append(line)
        if state == _START and line.strip() == "":
            continue
        if line.strip().startswith("--") and "+goose" in line:
            command = _annotation(line, fail, number)
            if command == "Up":
                if state != _START:
                    raise fail("duplicate '-- +goose Up' annotations", number)
                state = _UP
                continue
            if command == "Down":
                if state not in (_UP, _END_UP):
                    raise fail("must start with '-- +goose Up' annotation", number)
                if "".join(buffer).strip():
                    raise fail(f"unfinished SQL before '-- +goose Down' (missing semicolon?): "
                               f"{''.join(buffer).strip()[:80]!r}", number)
                state = _DOWN
                continue
            if command == "StatementBegin":
                if state in (_UP, _END_UP):
                    state = _BEGIN_UP
                elif state in (_DOWN, _END_DOWN):
                    state = _BEGIN_DOWN
                else:
                    raise fail("'-- +goose StatementBegin' must follow '-- +goose Up' or '-- +goose Down'", number)
                continue
            if command == "StatementEnd":
                if state == _BEGIN_UP:
                    state = _END_UP
                elif state == _BEGIN_DOWN:
                    state = _END_DOWN
                else:
                    raise fail("'-- +goose StatementEnd' must follow '-- +goose StatementBegin'", number)
            elif command == "NO TRANSACTION":
                use_tx = False
                continue
            else:  # ENVSUB ON / OFF
                continue
        if not buffer and (line.strip().startswith("--") or line == ""):
            continue  # comments and blank lines before a statement are dropped
        if state not in (_END_UP, _END_DOWN):
            if not buffer:
                buffer_line = number
            buffer.append(line + "\n")
        if state in (_DOWN, _BEGIN_DOWN, _END_DOWN):
            buffer.clear()
            if state == _END_DOWN:
                state = _DOWN
            continue
        if state == _START:
            raise fail("statements before '-- +goose Up'", number)
        if (state == _UP and _ends_with_semicolon(line)) or state == _END_UP:
            statement = "".join(buffer).strip()
            if statement:
                chunks.append(Statement(statement, buffer_line))
            buffer.clear()
            if state == _END_UP:
                state = _UP
    if state == _START:
        raise fail("must start with '-- +goose Up' annotation")
    if state in (_BEGIN_UP, _BEGIN_DOWN):
        raise fail("missing '-- +goose StatementEnd' annotation")
    if "".join(buffer).strip():
        raise fail(f"unfinished SQL at the end (missing semicolon?): {''.join(buffer).strip()[:80]!r}")
    statements = tuple(s for chunk in chunks for s in shifted(split(chunk.text), chunk.line))
    return statements, use_tx, "\n".join(up_lines).strip("\n") + "\n"


def _is_annotation(line: str, name: str) -> bool:
    return line.strip().startswith("--") and "+goose" in line and \
        line.replace("--", "").replace("+goose", "", 1).strip().lower() == name.lower()


def _annotation(line: str, fail, number: int) -> str:  # type: ignore[no-untyped-def]
    if line.startswith((" ", "\t")):
        raise fail(f"{line!r} contains leading whitespace", number)
    command = line.replace("--", "").replace("+goose", "", 1)
    if "+goose" in command:
        raise fail(f"{line!r} contains multiple '+goose' annotations", number)
    command = command.strip()
    if command.lower() not in _ANNOTATIONS:
        raise fail(f"unknown annotation {command!r}", number)
    return _ANNOTATIONS[command.lower()]


def _ends_with_semicolon(line: str) -> bool:
    last = ""
    for word in line.split():
        if word.startswith("--"):
            break
        last = word
    return last.endswith(";")


FORMAT = Goose()
