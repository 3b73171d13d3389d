"""Data preservation across an upgrade: no row lost, no surviving value changed.

Rows are matched by primary key (by the full row where a table has none). A value may
change only where the scenario says a migration normalises orphan references
(``orphan_fixes = ["runs.project_id -> talk_projects.id"]``) AND the old value really had
no parent in the legacy database; any other change is data loss. New rows are allowed
(seed data, placeholder parents) and reported.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from harness.sql import IDENT, OP, STRING, WORD, Token, split, tokenize
from harness.sqlite import inspect

_FIX = re.compile(r"^\s*(\w+)\.(\w+)\s*->\s*(\w+)\.(\w+)\s*$")
MAX_LISTED = 3


@dataclass(frozen=True)
class OrphanFix:
    table: str
    column: str
    parent_table: str
    parent_column: str


def parse_fixes(raw: Iterable[str]) -> tuple[OrphanFix, ...]:
    fixes = []
    for item in raw:
        match = _FIX.match(item)
        if not match:
            raise ValueError(f"orphan_fixes entry {item!r}: expected 'table.column -> parent_table.column'")
        fixes.append(OrphanFix(*match.groups()))
    return tuple(fixes)


@dataclass(frozen=True)
class Declared:
    """Changes the migrations' own SQL states it makes: not data loss, whatever they do.

    ``columns`` and ``tables`` name legacy tables and columns (as they are before the
    upgrade), compared case-insensitively. ``lineage`` follows each legacy table and column
    through the statements (renames, rebuilds that copy rows into a new table) to where its
    data is at head; without it a table and a column are looked for under their own names.
    """

    columns: frozenset[tuple[str, str]] = frozenset()  # (table, column), column "*" = any
    tables: frozenset[str] = frozenset()  # rows may go: DELETE, or dropped and not re-created
    rebuilt: frozenset[str] = frozenset()  # the SQL dropped the table: a column it did not carry over goes
    lineage: "_Lineage | None" = field(default=None, compare=False, hash=False, repr=False)

    @cached_property
    def _names(self) -> tuple[frozenset[tuple[str, str]], frozenset[str], frozenset[str]]:
        return (frozenset((t.lower(), c.lower()) for t, c in self.columns),
                frozenset(t.lower() for t in self.tables), frozenset(t.lower() for t in self.rebuilt))

    def column(self, table: str, column: str) -> bool:
        columns = self._names[0]
        return (table.lower(), column.lower()) in columns or (table.lower(), "*") in columns

    def column_may_go(self, table: str, column: str) -> bool:
        """A declared change of the column, or its table dropped (rebuilt without it, re-created)."""
        return self.column(table, column) or table.lower() in self._names[2]

    def table(self, table: str) -> bool:
        return table.lower() in self._names[1]

    def sources(self, head_table: str, head_column: str) -> frozenset[Source]:
        """The legacy ``(table, column, exact)`` whose values the head column holds.

        ``exact`` is False when the values were computed from it (an expression in a
        rebuild's ``SELECT``), so they are not expected to be equal.
        """
        if self.lineage is None:
            return frozenset({(head_table.lower(), head_column.lower(), True)})
        return self.lineage.at_head(head_table).lookup(head_column)


Source = tuple[str, str, bool]  # (legacy table, legacy column, exact), lower-case names


class _Table:
    """One table as the statements see it: where each of its columns' values come from."""

    def __init__(self, origin: str | None) -> None:
        self.origin = origin  # its legacy name (lower-case), None for a table the migrations create
        self.cols: dict[str, frozenset[Source]] = {}  # columns whose sources are known
        self.removed: set[str] = set()  # legacy columns renamed away or dropped
        self.fallbacks: list[_Table] = []  # tables copied in whole (SELECT *), as they were then
        self.rows: set[str] = {origin} if origin else set()  # legacy tables whose rows it holds
        self.known = False  # its columns are all in ``cols`` (it was created with a column list)

    def lookup(self, column: str) -> frozenset[Source]:
        column = column.lower()
        if column in self.cols:
            return self.cols[column]
        if column in self.removed or self.known:
            return frozenset()
        found: set[Source] = {(self.origin, column, True)} if self.origin else set()
        for table in self.fallbacks:
            found |= table.lookup(column)
        return frozenset(found)

    def snapshot(self) -> "_Table":
        copy = _Table(self.origin)
        copy.cols, copy.removed, copy.fallbacks = dict(self.cols), set(self.removed), list(self.fallbacks)
        copy.rows, copy.known = set(self.rows), self.known
        return copy


class _Lineage:
    """Every table the statements touch, by its current name, in statement order."""

    def __init__(self) -> None:
        self.live: dict[str, _Table] = {}  # current name (lower-case) -> table
        self.touched: set[str] = set()  # legacy names already given a _Table
        self.dropped: set[str] = set()  # legacy tables whose own table was dropped

    def get(self, name: str) -> _Table:
        key = name.lower()
        if key not in self.live and key not in self.touched:  # first mention of a legacy table
            self.touched.add(key)
            self.live[key] = _Table(key)
        return self.live.get(key) or _Table(None)

    def at_head(self, name: str) -> _Table:
        key = name.lower()
        if key in self.live:
            return self.live[key]
        return _Table(None) if key in self.touched else _Table(key)

    def exists(self, name: str) -> bool:
        return name.lower() in self.live

    def create(self, name: str) -> _Table:
        table = _Table(None)
        self.touched.add(name.lower())  # a legacy table of that name would have made CREATE fail
        self.live[name.lower()] = table
        return table

    def drop(self, name: str) -> None:
        table = self.get(name)
        self.live.pop(name.lower(), None)
        if table.origin:
            self.dropped.add(table.origin)

    def rename(self, old: str, new: str) -> None:
        table = self.get(old)
        self.live.pop(old.lower(), None)
        self.touched.add(new.lower())
        self.live[new.lower()] = table


#: Words that end a FROM clause's list of tables, or cannot be a table's alias.
_AFTER_TABLE = frozenset({
    "WHERE", "GROUP", "ORDER", "LIMIT", "UNION", "EXCEPT", "INTERSECT", "WINDOW", "HAVING", "RETURNING", "ON",
    "USING", "JOIN", "LEFT", "RIGHT", "FULL", "INNER", "OUTER", "CROSS", "NATURAL", "INDEXED", "NOT",
})
_COMPOUND = frozenset({"UNION", "EXCEPT", "INTERSECT"})
_EXPRESSION_WORDS = frozenset({
    "AND", "OR", "NOT", "NULL", "IS", "IN", "LIKE", "GLOB", "REGEXP", "MATCH", "BETWEEN", "EXISTS", "CASE", "WHEN",
    "THEN", "ELSE", "END", "CAST", "AS", "COLLATE", "ESCAPE", "DISTINCT", "ALL", "TRUE", "FALSE", "SELECT", "FROM",
    "WHERE", "CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME", "ISNULL", "NOTNULL", "FILTER", "OVER",
})
_CONSTRAINT_START = frozenset({"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"})


def _top_level_split(tokens: Sequence[Token], separator: str = ",") -> list[list[Token]]:
    parts: list[list[Token]] = [[]]
    depth = 0
    for tok in tokens:
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            depth -= 1
        if depth == 0 and tok.kind == OP and tok.text == separator:
            parts.append([])
        else:
            parts[-1].append(tok)
    return [p for p in parts if p]


def _group(tokens: Sequence[Token], start: int) -> int:
    """The index just past the parenthesised group opening at ``start``."""
    depth = 0
    for i in range(start, len(tokens)):
        depth += tokens[i].text == "("
        depth -= tokens[i].text == ")"
        if depth == 0:
            return i + 1
    return len(tokens)


def _top_level_find(tokens: Sequence[Token], start: int, *words: str) -> int:
    """The index of the first of ``words`` from ``start`` outside parentheses (else the end)."""
    depth = 0
    for j in range(start, len(tokens)):
        depth += tokens[j].text == "("
        depth -= tokens[j].text == ")"
        if depth == 0 and tokens[j].word in words:
            return j
    return len(tokens)


def _table_name(tokens: Sequence[Token], i: int) -> tuple[str | None, int]:
    """A possibly schema-qualified table name at ``i``: (name, index after it)."""
    if i >= len(tokens) or tokens[i].name is None or tokens[i].kind == STRING:
        return None, i
    if i + 2 < len(tokens) and tokens[i + 1].text == "." and tokens[i + 2].name is not None:
        return tokens[i + 2].name, i + 3
    return tokens[i].name, i + 1


def _skip_words(tokens: Sequence[Token], i: int, *words: str) -> int:
    while i < len(tokens) and tokens[i].word in words:
        i += 1
    return i


class _Reader:
    """Reads the statements of the migrations, in order, into a ``_Lineage``."""

    def __init__(self) -> None:
        self.lineage = _Lineage()
        self.columns: set[tuple[str, str]] = set()
        self.deleted: set[str] = set()

    def declare(self, table: _Table, column: str) -> None:
        if column == "*":
            self.columns.update((origin, "*") for origin in table.rows)
        for origin, col, _ in table.lookup(column) if column != "*" else ():
            self.columns.add((origin, col))

    def statement(self, text: str) -> None:
        tokens = tokenize(text)
        if not tokens:
            return
        first = tokens[0].word
        if first == "CREATE":
            self._create(tokens)
        elif first == "ALTER":
            self._alter(tokens)
        elif first == "DROP" and len(tokens) > 1 and tokens[1].word == "TABLE":
            name, _ = _table_name(tokens, _skip_words(tokens, 2, "IF", "EXISTS"))
            if name:
                if_exists = len(tokens) > 2 and tokens[2].word == "IF"
                if not if_exists or self.lineage.exists(name) or name.lower() not in self.lineage.touched:
                    self.lineage.drop(name)
        elif first == "DELETE":
            name, _ = _table_name(tokens, _skip_words(tokens, 1, "FROM"))
            if name:
                self.deleted.update(self.lineage.get(name).rows)
        elif first == "UPDATE":
            self._update(text, tokens)
        elif first in ("INSERT", "REPLACE"):
            self._insert(tokens)

    def _create(self, tokens: list[Token]) -> None:
        i = _skip_words(tokens, 1, "TEMP", "TEMPORARY", "VIRTUAL")
        if i >= len(tokens) or tokens[i].word != "TABLE":
            return
        i += 1
        if_not_exists = i < len(tokens) and tokens[i].word == "IF"
        name, i = _table_name(tokens, _skip_words(tokens, i, "IF", "NOT", "EXISTS"))
        if not name:
            return
        if if_not_exists and (self.lineage.exists(name) or name.lower() not in self.lineage.touched):
            self.lineage.get(name)  # there already (or a legacy table): nothing changes
            return
        table = self.lineage.create(name)
        if i < len(tokens) and tokens[i].word == "AS":
            self._copy(table, None, tokens[i + 1:])
        elif i < len(tokens) and tokens[i].text == "(":
            body = tokens[i + 1:_group(tokens, i) - 1]
            for definition in _top_level_split(body):
                if definition[0].word not in _CONSTRAINT_START and definition[0].name:
                    table.cols[definition[0].name.lower()] = frozenset()
            table.known = True

    def _alter(self, tokens: list[Token]) -> None:
        if len(tokens) < 2 or tokens[1].word != "TABLE":
            return
        name, i = _table_name(tokens, 2)
        if not name or i >= len(tokens):
            return
        action = tokens[i].word
        if action == "RENAME":
            i += 1
            if i < len(tokens) and tokens[i].word == "TO":
                new, _ = _table_name(tokens, i + 1)
                if new:
                    self.lineage.rename(name, new)
                return
            i = _skip_words(tokens, i, "COLUMN")
            if i + 2 < len(tokens) and tokens[i + 1].word == "TO" and tokens[i].name and tokens[i + 2].name:
                table = self.lineage.get(name)
                old, new = tokens[i].name.lower(), tokens[i + 2].name.lower()
                sources = table.lookup(old)
                table.cols.pop(old, None)
                table.removed.add(old)
                table.cols[new] = sources
        elif action == "DROP":
            i = _skip_words(tokens, i + 1, "COLUMN")
            if i < len(tokens) and tokens[i].name:
                table = self.lineage.get(name)
                column = tokens[i].name.lower()
                self.columns.update((origin, col) for origin, col, _ in table.lookup(column))
                table.cols.pop(column, None)
                table.removed.add(column)
        elif action == "ADD":
            i = _skip_words(tokens, i + 1, "COLUMN")
            if i < len(tokens) and tokens[i].name:
                self.lineage.get(name).cols[tokens[i].name.lower()] = frozenset()

    def _update(self, text: str, tokens: list[Token]) -> None:
        name, i = _table_name(tokens, _skip_words(tokens, 1, "OR", "ROLLBACK", "ABORT", "REPLACE", "FAIL",
                                                  "IGNORE"))
        if not name:
            return
        table = self.lineage.get(name)
        if i < len(tokens) and tokens[i].word == "AS":
            i += 2
        elif i < len(tokens) and tokens[i].word != "SET" and tokens[i].name:
            i += 1  # an alias
        if i >= len(tokens) or tokens[i].word != "SET":
            return
        end = _top_level_find(tokens, i + 1, "FROM", "WHERE", "RETURNING", "ORDER", "LIMIT")
        for assignment in _top_level_split(tokens[i + 1:end]):
            target = []
            for tok in assignment:
                if tok.text == "=":
                    break
                target.append(tok)
            if target and target[0].text == "(":
                names = [t.name for t in target if t.name]
            else:
                names = [target[-1].name] if target and target[-1].name else []
            for column in names:
                self.declare(table, column)

    def _insert(self, tokens: list[Token]) -> None:
        replace = tokens[0].word == "REPLACE"
        i = 1
        if i + 1 < len(tokens) and tokens[i].word == "OR":
            replace = replace or tokens[i + 1].word == "REPLACE"
            i += 2
        if i >= len(tokens) or tokens[i].word != "INTO":
            return
        name, i = _table_name(tokens, i + 1)
        if not name:
            return
        table = self.lineage.get(name)
        if replace:
            self.declare(table, "*")
        if i + 1 < len(tokens) and tokens[i].word == "AS":
            i += 2
        targets: list[str] | None = None
        if i < len(tokens) and tokens[i].text == "(":
            end = _group(tokens, i)
            targets = [t.name.lower() for t in tokens[i + 1:end - 1] if t.name and t.kind != STRING]
            i = end
        if i < len(tokens) and tokens[i].word in ("SELECT", "WITH"):
            self._copy(table, targets, tokens[i:])

    # -- INSERT … SELECT, CREATE TABLE … AS SELECT ----------------------------------------------

    def _copy(self, table: _Table, targets: list[str] | None, tokens: list[Token]) -> None:
        """Rows copied into ``table`` by a SELECT: which legacy values each column now holds."""
        if tokens and tokens[0].word == "WITH":
            return  # common table expressions: their columns are not followed
        for part in self._compound_parts(tokens):
            self._copy_select(table, targets, part)

    @staticmethod
    def _compound_parts(tokens: list[Token]) -> list[list[Token]]:
        parts: list[list[Token]] = [[]]
        depth = 0
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            depth += tok.text == "("
            depth -= tok.text == ")"
            if depth == 0 and tok.word in _COMPOUND:
                parts.append([])
                i = _skip_words(tokens, i + 1, "ALL")
                continue
            parts[-1].append(tok)
            i += 1
        return [p for p in parts if p and p[0].word == "SELECT"]

    def _copy_select(self, table: _Table, targets: list[str] | None, tokens: list[Token]) -> None:
        i = _skip_words(tokens, 1, "DISTINCT", "ALL")
        end = _top_level_find(tokens, i, "FROM", "WHERE", "GROUP", "ORDER", "LIMIT", "WINDOW")
        items = _top_level_split(tokens[i:end])
        sources = self._sources(tokens[end + 1:]) if end < len(tokens) and tokens[end].word == "FROM" else {}
        for source in sources.values():
            table.rows |= source.rows
        if targets is None and table.known:
            targets = list(table.cols)
        for index, item in enumerate(items):
            if item[-1].text == "*":  # * or alias.*: every column, by name
                qualifier = item[0].name.lower() if len(item) == 3 and item[0].name else None
                chosen = [s for a, s in sources.items() if qualifier in (None, a)]
                unique = list({id(s): s for s in chosen}.values())
                if targets is not None and table.known:
                    for column in targets:
                        for source in unique:
                            table.cols[column] = table.cols.get(column, frozenset()) | source.lookup(column)
                else:
                    table.fallbacks += [s.snapshot() for s in unique]
                continue
            target, values = self._item(item, sources)
            if targets is not None:
                target = targets[index] if index < len(targets) else None
            if target is None:
                continue  # an unnamed expression in a table without a column list
            table.cols[target.lower()] = table.lookup(target) | values

    def _sources(self, tokens: list[Token]) -> dict[str, _Table]:
        """Name and alias -> table, for the tables of a FROM clause (not subqueries)."""
        found: dict[str, _Table] = {}
        i, expect = 0, True  # expect: at the start of a table reference
        while i < len(tokens):
            tok = tokens[i]
            if tok.word in _COMPOUND or tok.word in ("WHERE", "GROUP", "ORDER", "LIMIT", "WINDOW", "HAVING",
                                                         "RETURNING"):
                break
            if tok.text == "," or tok.word == "JOIN":
                i, expect = i + 1, True
                continue
            if tok.text == "(":  # a subquery (its alias follows) or an ON / USING expression
                i, expect = _group(tokens, i), False
                continue
            if not expect:
                i += 1
                continue
            expect = False
            name, j = _table_name(tokens, i)
            if name is None:
                i += 1
                continue
            table: _Table | None = self.lineage.get(name)
            if j < len(tokens) and tokens[j].text == "(":  # a table-valued function: json_each(…)
                j, table = _group(tokens, j), None
            alias = None
            if j + 1 < len(tokens) and tokens[j].word == "AS":
                alias, j = tokens[j + 1].name, j + 2
            elif j < len(tokens) and tokens[j].kind in (WORD, IDENT) and tokens[j].word not in _AFTER_TABLE:
                alias, j = tokens[j].name, j + 1
            if table is not None:
                found[name.lower()] = table
                if alias:
                    found[alias.lower()] = table
            i = j
        return found

    def _item(self, item: list[Token], sources: dict[str, _Table]) -> tuple[str | None, frozenset[Source]]:
        """A select item's output name and the legacy values it carries."""
        alias = None
        if len(item) >= 3 and item[-2].word == "AS" and item[-1].name:
            alias, item = item[-1].name, item[:-2]
        elif len(item) >= 2 and item[-1].kind in (WORD, IDENT) and item[-1].word not in _EXPRESSION_WORDS \
                and item[-2].word != "COLLATE" and (item[-2].kind != OP or item[-2].text == ")"):
            alias, item = item[-1].name, item[:-1]
        exact = self._column_ref(item)
        if exact is None and len(item) >= 6 and item[0].word == "CAST" and item[1].text == "(" \
                and _group(item, 1) == len(item):
            inner = item[2:]
            as_at = next((k for k, t in enumerate(inner) if t.word == "AS"), None)
            exact = self._column_ref(inner[:as_at]) if as_at is not None else None
        if exact is not None:
            qualifier, column = exact
            values = frozenset(s for source in self._resolve(qualifier, sources) for s in source.lookup(column))
            return alias or column, values
        values: set[Source] = set()
        for k, tok in enumerate(item):
            if tok.kind not in (WORD, IDENT) or tok.word in _EXPRESSION_WORDS:
                continue
            if k + 1 < len(item) and item[k + 1].text in ("(", "."):
                continue  # a function, or the qualifier of the next name
            if k > 0 and item[k - 1].word == "AS":
                continue  # CAST(… AS type)
            qualifier = item[k - 2].name if k >= 2 and item[k - 1].text == "." else None
            for source in self._resolve(qualifier, sources):
                values |= {(o, c, False) for o, c, _ in source.lookup(tok.name or "")}
        return alias, frozenset(values)

    @staticmethod
    def _column_ref(item: Sequence[Token]) -> tuple[str | None, str] | None:
        if len(item) == 1 and item[0].kind in (WORD, IDENT) and item[0].word not in _EXPRESSION_WORDS:
            return None, item[0].name or ""
        if len(item) == 3 and item[1].text == "." and item[0].name and item[2].name and item[2].kind != STRING:
            return item[0].name, item[2].name
        return None

    @staticmethod
    def _resolve(qualifier: str | None, sources: dict[str, _Table]) -> list[_Table]:
        if qualifier is not None:
            found = sources.get(qualifier.lower())
            return [found] if found else []
        return list({id(s): s for s in sources.values()}.values())


def declared_mutations(sql_texts: Iterable[str]) -> Declared:
    """What the migrations' SQL says it does to legacy data, statement by statement.

    Declared changes: ``UPDATE … SET`` (those columns), ``REPLACE`` (any column), ``DELETE``
    (rows may go), ``DROP COLUMN`` and a rebuild's ``INSERT … SELECT`` that leaves a column
    out (the column goes), a ``DROP TABLE`` whose table is not re-created under its name by a
    later ``CREATE TABLE`` or ``ALTER TABLE … RENAME TO`` (the table goes). A table dropped
    and re-created is the usual SQLite rebuild, where rows get lost: its rows must survive.
    Renames (``RENAME TO``, ``RENAME COLUMN``) and rebuilds (``INSERT INTO new (…) SELECT …
    FROM old``) are followed, so a legacy column is compared with the head column that holds
    its values (an expression of it is a declared change).
    """
    reader = _Reader()
    for text in sql_texts:
        for statement in split(text):
            reader.statement(statement.text)
    lineage = reader.lineage
    gone = {origin for origin in lineage.dropped if not lineage.exists(origin)}
    return Declared(frozenset(reader.columns), frozenset(reader.deleted | gone), frozenset(lineage.dropped), lineage)


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    new_rows: dict[str, int] = field(default_factory=dict)
    checked_rows: int = 0
    fixed_orphans: int = 0


def _key_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    info = conn.execute(f"PRAGMA table_info({inspect.quote_ident(table)})").fetchall()
    keyed = sorted((row[5], row[1]) for row in info if row[5])
    return [name for _, name in keyed]


def _rows(conn: sqlite3.Connection, table: str, columns: Sequence[str]) -> list[tuple]:
    return list(inspect.table_rows(conn, table, list(columns)))


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b or (a is None and b is None)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Affinity:
    """What SQLite makes of a value stored in a column of a declared type (in memory)."""

    def __init__(self) -> None:
        self.conn = sqlite3.connect(":memory:")
        self.tables: dict[str, str] = {}

    def kept(self, before: object, after: object, declared_type: str) -> bool:
        """Whether ``after`` is ``before`` as a column of ``declared_type`` stores it, or casts it to."""
        if before is None or after is None:
            return False
        table = self.tables.get(declared_type)
        if table is None:
            table = self.tables[declared_type] = f"t{len(self.tables)}"
            try:
                self.conn.execute(f"CREATE TABLE {table} (v {declared_type})")
            except sqlite3.Error:
                self.conn.execute(f"CREATE TABLE {table} (v)")
        try:
            self.conn.execute(f"INSERT INTO {table} VALUES (?)", (before,))
            stored = self.conn.execute(f"SELECT v FROM {table}").fetchone()[0]
            self.conn.execute(f"DELETE FROM {table}")
            if _same(stored, after):
                return True
            if declared_type.strip():
                cast = self.conn.execute(f"SELECT CAST(? AS {declared_type})", (before,)).fetchone()[0]
                return _same(cast, after)
        except sqlite3.Error:
            return False
        return False

    def close(self) -> None:
        self.conn.close()


def _declared_types(conn: sqlite3.Connection, table: str) -> dict[str, str]:
    return {r[1]: r[2] or "" for r in conn.execute(f"PRAGMA table_xinfo({inspect.quote_ident(table)})")}


def compare(before: Path, after: Path, fixes: Sequence[OrphanFix] = (), *,
            ignore_tables: Iterable[str] = (), declared: Declared = Declared()) -> Report:
    """Everything in ``before`` that does not survive into ``after``, table by table.

    A legacy table is compared with the head table that holds its rows: itself, or where
    ``declared`` follows it to (a rename, a rebuild into a new table); each column with the
    head column that holds its values.
    """
    report = Report()
    ignored = {t.lower() for t in ignore_tables}
    affinity = _Affinity()
    try:
        with inspect.reading(before) as old, inspect.reading(after) as new:
            heads = {t: inspect.columns(new, t) for t in inspect.user_tables(new) if t.lower() not in ignored}
            by_name = {t.lower(): t for t in heads}
            destinations: dict[tuple[str, str], list[tuple[str, str, bool]]] = {}
            for head, head_cols in heads.items():
                for col in head_cols:
                    for table, column, exact in declared.sources(head, col):
                        destinations.setdefault((table, column), []).append((head, col, exact))
            for table in inspect.user_tables(old):
                if table.lower() in ignored:
                    continue
                old_cols = inspect.columns(old, table)
                found = {c: destinations.get((table.lower(), c.lower()), []) for c in old_cols}
                counts = Counter(head for places in found.values() for head, _, exact in places if exact)
                if counts:
                    same = [h for h in counts if h.lower() == table.lower()]
                    head = same[0] if same else max(counts, key=lambda h: counts[h])
                    mapping = {c: next(col for h, col, exact in places if h == head and exact)
                               for c, places in found.items() if any(h == head and exact for h, _, exact in places)}
                elif table.lower() in by_name and not any(found.values()):
                    head = by_name[table.lower()]  # re-created, nothing copied: compared by name
                    names = {c.lower(): c for c in heads[head]}
                    mapping = {c: names[c.lower()] for c in old_cols if c.lower() in names}
                else:
                    if declared.table(table) or any(found.values()):
                        continue  # dropped as declared, or every column turned into something else
                    count = old.execute(f"SELECT count(*) FROM {inspect.quote_ident(table)}").fetchone()[0]
                    if count:
                        report.problems.append(f"table {table}: dropped by the upgrade with its {count} rows")
                    continue
                _compare_table(old, new, table, head, mapping, found, fixes, report, declared, affinity)
    finally:
        affinity.close()
    return report


def _compare_table(old: sqlite3.Connection, new: sqlite3.Connection, table: str, head: str,
                   mapping: Mapping[str, str], found: Mapping[str, list[tuple[str, str, bool]]],
                   fixes: Sequence[OrphanFix], report: Report, declared: Declared, affinity: _Affinity) -> None:
    old_cols = inspect.columns(old, table)
    where = table if head == table else f"{table} (now {head})"
    lost_cols = [c for c in old_cols if c not in mapping and not found.get(c) and not declared.column_may_go(table, c)
                 and old.execute(f"SELECT 1 FROM {inspect.quote_ident(table)} WHERE {inspect.quote_ident(c)} "
                                 f"IS NOT NULL LIMIT 1").fetchone()]
    if lost_cols:
        report.problems.append(f"table {where}: column(s) {', '.join(lost_cols)} dropped with their data")
    cols = [c for c in old_cols if c in mapping]
    if not cols:
        return
    keys = [k for k in _key_columns(old, table) if k in cols] or cols
    before_rows = {tuple(r[cols.index(k)] for k in keys): r for r in _rows(old, table, cols)}
    after_rows = {tuple(r[cols.index(k)] for k in keys): r for r in _rows(new, head, [mapping[c] for c in cols])}
    types = _declared_types(new, head)
    unmatched = [k for k in before_rows if k not in after_rows]
    if unmatched:  # a key whose storage class changed with the column's type still matches
        by_value = {tuple(_norm(v) for v in k): k for k in after_rows}
        for key in unmatched:
            match = by_value.get(tuple(_norm(v) for v in key))
            if match is not None and all(_same(a, b) or affinity.kept(a, b, types.get(mapping[k], ""))
                                         for a, b, k in zip(key, match, keys)):
                after_rows[key] = after_rows.pop(match)
    report.checked_rows += len(before_rows)
    missing = [k for k in before_rows if k not in after_rows]
    if missing and not declared.table(table) and not declared.column(table, "*"):
        shown = ", ".join(_show(k if len(k) > 1 else k[0]) for k in missing[:MAX_LISTED])
        report.problems.append(f"table {where}: {len(missing)} of {len(before_rows)} rows lost "
                               f"(by {', '.join(keys)}: {shown}{' …' if len(missing) > MAX_LISTED else ''})")
    fixable = {f.column: f for f in fixes if f.table == table}
    parents = {f.column: _parent_keys(old, f) for f in fixable.values()}
    changed: list[str] = []
    for key, row in before_rows.items():
        now = after_rows.get(key)
        if now is None:
            continue
        for i, col in enumerate(cols):
            if _same(row[i], now[i]):
                continue
            if col in fixable and row[i] is not None and row[i] not in parents[col]:
                report.fixed_orphans += 1
                continue
            if declared.column(table, col):
                continue
            if type(row[i]) is not type(now[i]) and affinity.kept(row[i], now[i], types.get(mapping[col], "")):
                continue  # the column's type changed, and with it how SQLite stores the same value
            shown_col = col if mapping[col] == col else f"{col} (now {mapping[col]})"
            changed.append(f"{_show(key if len(key) > 1 else key[0])}.{shown_col}: {_show(row[i])} -> {_show(now[i])}")
    if changed:
        report.problems.append(f"table {where}: {len(changed)} values changed, first: "
                               + "; ".join(changed[:MAX_LISTED]))
    added = len(after_rows) - (len(before_rows) - len(missing))
    if added > 0:
        report.new_rows[head] = added


def _norm(value: object) -> object:
    """A loose form of a key value, to pair keys whose storage class changed (1, '1', 1.0)."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() else number
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _parent_keys(conn: sqlite3.Connection, fix: OrphanFix) -> set[object]:
    tables = set(inspect.user_tables(conn))
    if fix.parent_table not in tables:
        return set()
    return {r[0] for r in conn.execute(
        f"SELECT {inspect.quote_ident(fix.parent_column)} FROM {inspect.quote_ident(fix.parent_table)}")}


def invariants(db: Path, checks: Iterable[tuple[str, str, object]]) -> list[str]:
    """Run each (name, sql, expected) on ``db``; one line per invariant that does not hold."""
    problems = []
    with inspect.reading(db) as conn:
        for name, sql, expected in checks:
            try:
                row = conn.execute(sql).fetchone()
            except sqlite3.Error as exc:
                problems.append(f"invariant '{name}': query failed: {exc}")
                continue
            value = row[0] if row and len(row) == 1 else (list(row) if row else None)
            if value != expected:
                problems.append(f"invariant '{name}': {sql} gave {value!r}, expected {expected!r}")
    return problems


def mapping_of(params: Mapping[str, object], key: str) -> list[str]:
    raw = params.get(key, [])
    return [str(x) for x in raw] if isinstance(raw, list) else []
