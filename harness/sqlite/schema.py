"""The normalised schema of a database, and a readable diff between two of them.

The migration matrix proves that a database upgraded from any legacy version converges to
exactly the fresh-install schema. Comparing ``CREATE`` text cannot do that: a table rebuilt
by the 12-step procedure is stored as ``CREATE TABLE "t"(...)``, its autoindexes and foreign
key ids are numbered differently, and people write the same thing with different whitespace,
case and quoting. So the structure is read with PRAGMAs (``table_list``, ``table_xinfo``,
``foreign_key_list``, ``index_list``, ``index_xinfo``) and only the parts no PRAGMA reports
(CHECK constraints, AUTOINCREMENT, DEFERRABLE, COLLATE of a column, generated-column
expressions, expression-index terms, partial-index WHERE, trigger and view bodies) are taken
from ``sqlite_schema`` text, read with ``harness.sql``'s tokens and normalised by
:func:`normalise_sql`.

:func:`diff` gives one entry per difference, each naming the object and what differs; an
empty list means the schemas are identical.

Not compared (no PRAGMA reports them and they are rarely changed by migrations): ON CONFLICT
clauses of constraints, ``INTEGER PRIMARY KEY DESC``, ``application_id``.
"""

from __future__ import annotations

import difflib
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, Mapping

from harness.sql import BLOB, IDENT, KEYWORDS, NUMBER, OP, PARAM, STRING, WORD, is_plain_word, tokenize
from harness.sqlite.inspect import reading

__all__ = [
    "Column",
    "ForeignKey",
    "IndexColumn",
    "Index",
    "Table",
    "Schema",
    "read",
    "read_file",
    "diff",
    "normalise_sql",
]


# --------------------------------------------------------------------------- data model


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # declared type, upper-cased, whitespace collapsed ("" when none)
    notnull: bool
    default: str | None  # normalised SQL text of the default expression
    pk: int  # position in the primary key, 0 = not part of it
    hidden: int  # 0 normal, 2 generated VIRTUAL, 3 generated STORED
    collation: str | None  # declared COLLATE (upper-cased); explicit BINARY counts as none
    generated: str | None = None  # normalised expression of a generated column


@dataclass(frozen=True, order=True)
class ForeignKey:
    columns: tuple[str, ...]
    table: str
    to: tuple[str | None, ...]  # None = the parent's primary key
    on_update: str
    on_delete: str
    match: str
    deferrable: str  # "DEFERRABLE INITIALLY DEFERRED" or "" (every other form is immediate)


@dataclass(frozen=True)
class IndexColumn:
    name: str | None  # None for an expression
    expr: str | None  # normalised expression text, for expression terms
    desc: bool
    collation: str  # effective collation, upper-cased (BINARY by default)


@dataclass(frozen=True)
class Index:
    name: str  # the index name; for autoindexes the content key, e.g. "t:unique(a,b)"
    table: str
    columns: tuple[IndexColumn, ...]
    unique: bool
    partial: str | None  # normalised WHERE text of a partial index
    origin: str  # "c" CREATE INDEX, "u" UNIQUE constraint, "pk" PRIMARY KEY


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]  # in table order
    foreign_keys: tuple[ForeignKey, ...]  # sorted
    checks: tuple[str, ...]  # normalised CHECK constraints (with CONSTRAINT name if any), sorted
    strict: bool
    without_rowid: bool
    autoincrement: bool


@dataclass(frozen=True)
class Schema:
    tables: Mapping[str, Table]
    indexes: Mapping[str, Index]
    triggers: Mapping[str, str]  # name -> normalised SQL
    views: Mapping[str, str]  # name -> normalised SQL
    user_version: int
    virtual: Mapping[str, str]  # virtual table name -> normalised SQL


# --------------------------------------------------------------------------- SQL tokens

# Not keywords, but case-insensitive names whose spelling carries no meaning: built-in
# functions, type names, NEW/OLD, table options. Upper-cased like keywords (identifiers are
# case-insensitive in SQLite, so this cannot hide a real difference).
_FOLD = frozenset(
    """
    NEW OLD EXCLUDED ROWID OID _ROWID_ STRICT STORED TRUE FALSE
    INTEGER INT TEXT REAL BLOB NUMERIC ANY VARCHAR CHAR BOOLEAN DATE DATETIME FLOAT DOUBLE
    DECIMAL
    ABS CHANGES CHAR COALESCE CONCAT CONCAT_WS FORMAT HEX IFNULL IIF INSTR LAST_INSERT_ROWID
    LENGTH LIKELIHOOD LIKELY LOWER LTRIM MAX MIN NULLIF OCTET_LENGTH PRINTF QUOTE RANDOM
    RANDOMBLOB ROUND RTRIM SIGN SOUNDEX SQLITE_VERSION SUBSTR SUBSTRING TOTAL_CHANGES TRIM
    TYPEOF UNHEX UNICODE UNLIKELY UPPER ZEROBLOB TIME JULIANDAY UNIXEPOCH STRFTIME TIMEDIFF
    AVG COUNT GROUP_CONCAT STRING_AGG SUM TOTAL ROW_NUMBER RANK DENSE_RANK PERCENT_RANK
    CUME_DIST NTILE LAG LEAD FIRST_VALUE LAST_VALUE NTH_VALUE CEIL CEILING FLOOR EXP LN LOG
    LOG10 LOG2 MOD PI POW POWER SQRT JSON JSON_ARRAY JSON_ARRAY_LENGTH JSON_EXTRACT
    JSON_INSERT JSON_OBJECT JSON_PATCH JSON_REMOVE JSON_REPLACE JSON_SET JSON_TYPE JSON_VALID
    JSON_QUOTE JSON_GROUP_ARRAY JSON_GROUP_OBJECT JSON_EACH JSON_TREE
    """.split()
)

# Keywords written like functions: no space before their "(".
_CALL_KEYWORDS = frozenset({"CAST", "REPLACE", "LIKE", "GLOB", "RAISE", "REGEXP", "MATCH"})
# Keywords that are values: an operator after them is binary.
_VALUE_KEYWORDS = frozenset({"NULL", "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "END"})

_KINDS = {STRING: "str", NUMBER: "num", PARAM: "param"}


@dataclass(frozen=True)
class _Tok:
    kind: str  # "kw", "id" (identifier, bare or quoted), "str", "blob", "num", "param", "op"
    text: str  # normalised spelling
    name: str | None = None  # for a quoted identifier or a string: the name it spells (else ``text``)

    @property
    def kw(self) -> str | None:
        return self.text if self.kind == "kw" else None


def _ident_text(name: str) -> _Tok:
    """An identifier spelled canonically: bare when it can be, else double-quoted."""
    if is_plain_word(name):
        upper = name.upper()
        if upper not in KEYWORDS:
            return _Tok("id", upper if upper in _FOLD else name)
    return _Tok("id", '"' + name.replace('"', '""') + '"', name)


def _canonical_tokens(text: str | None) -> list[_Tok]:
    """The tokens of ``text`` (``harness.sql``) in their canonical spelling."""
    out: list[_Tok] = []
    for token in tokenize(text or ""):
        kind, raw = token.kind, token.text
        if kind == WORD:
            upper = raw.upper()
            if upper in KEYWORDS:
                out.append(_Tok("kw", upper))
            else:
                out.append(_Tok("id", upper if upper in _FOLD else raw))
        elif kind == IDENT:
            out.append(_ident_text(token.unquoted or ""))
        elif kind == BLOB:
            out.append(_Tok("blob", raw.upper() if token.value is not None else raw))
        elif kind == OP:
            out.append(_Tok("op", {"==": "=", "!=": "<>"}.get(raw, raw)))
        else:
            out.append(_Tok(_KINDS[kind], raw, token.unquoted))
    return out


def _render(toks: Iterable[_Tok]) -> str:
    parts: list[str] = []
    prev: _Tok | None = None
    prev_unary = False
    for tok in toks:
        if prev is not None:
            tight = (
                tok.text in (",", ")", ";", ".")
                or prev.text in ("(", ".")
                or prev_unary
                or (
                    tok.text == "("
                    and (prev.kind == "id" or (prev.kind == "kw" and prev.text in _CALL_KEYWORDS))
                )
            )
            if not tight:
                parts.append(" ")
        parts.append(tok.text)
        prev_unary = tok.kind == "op" and tok.text in ("-", "+", "~") and (
            prev is None
            or (prev.kind == "op" and prev.text != ")")
            or (prev.kind == "kw" and prev.text not in _VALUE_KEYWORDS)
        )
        prev = tok
    return "".join(parts)


def _strip_semicolons(toks: list[_Tok]) -> list[_Tok]:
    while toks and toks[-1].text == ";":
        toks = toks[:-1]
    return toks


def normalise_sql(text: str | None) -> str:
    """SQL text in one canonical spelling.

    Whitespace and comments collapse to single spaces (string literals untouched), keywords
    (and built-in function / type names, NEW/OLD) are upper-cased, identifier quotes are
    dropped where the name is a plain identifier ("x", [x], `x` -> x) and otherwise written
    with double quotes, ``==`` becomes ``=`` and ``!=`` becomes ``<>``, and trailing
    semicolons are dropped.
    """
    return _render(_strip_semicolons(_canonical_tokens(text)))


# --------------------------------------------------------------------------- parsing CREATE text


def _group_end(toks: list[_Tok], i: int) -> int:
    """Index of the ")" matching the "(" at ``i`` (or the last token when unbalanced)."""
    depth = 0
    for j in range(i, len(toks)):
        if toks[j].kind == "op":
            if toks[j].text == "(":
                depth += 1
            elif toks[j].text == ")":
                depth -= 1
                if depth == 0:
                    return j
    return len(toks) - 1


def _split_commas(toks: list[_Tok]) -> list[list[_Tok]]:
    parts: list[list[_Tok]] = [[]]
    depth = 0
    for tok in toks:
        if tok.kind == "op" and tok.text == "(":
            depth += 1
        elif tok.kind == "op" and tok.text == ")":
            depth -= 1
        if depth == 0 and tok.kind == "op" and tok.text == ",":
            parts.append([])
        else:
            parts[-1].append(tok)
    return [p for p in parts if p]


def _name_of(tok: _Tok) -> str:
    """The identifier a token names (bare, quoted or string-literal spelling)."""
    return tok.name if tok.name is not None else tok.text


def _paren_body(toks: list[_Tok], i: int) -> tuple[list[_Tok], int]:
    """Tokens inside the group opening at ``i`` and the index after its ")"."""
    end = _group_end(toks, i)
    return toks[i + 1 : end], end + 1


def _deferrable(toks: list[_Tok]) -> str:
    """Normalised deferrable clause: only DEFERRABLE INITIALLY DEFERRED actually defers."""
    for k, tok in enumerate(toks):
        if tok.kw == "DEFERRABLE":
            if k > 0 and toks[k - 1].kw == "NOT":
                return ""
            rest = [t.kw for t in toks[k + 1 : k + 3]]
            return "DEFERRABLE INITIALLY DEFERRED" if rest == ["INITIALLY", "DEFERRED"] else ""
    return ""


_COLUMN_CONSTRAINT_STARTS = frozenset(
    {"CONSTRAINT", "PRIMARY", "NOT", "NULL", "UNIQUE", "CHECK", "DEFAULT", "COLLATE",
     "REFERENCES", "GENERATED", "AS"}
)


@dataclass
class _FkSpec:
    columns: tuple[str, ...]
    table: str
    deferrable: str


@dataclass
class _ColumnSpec:
    collation: str | None = None
    generated: str | None = None


@dataclass
class _TableSpec:
    columns: dict[str, _ColumnSpec]
    checks: list[str]
    fks: list[_FkSpec]
    autoincrement: bool


def _fk_clause_end(toks: list[_Tok], i: int) -> int:
    """End of a column-level REFERENCES clause starting after the parent name at ``i``."""
    j = i
    while j < len(toks):
        tok = toks[j]
        if tok.kind == "op" and tok.text == "(":
            j = _group_end(toks, j) + 1
            continue
        kw = tok.kw
        if kw in _COLUMN_CONSTRAINT_STARTS:
            after_set = j > 0 and toks[j - 1].kw == "SET"  # ON DELETE SET NULL / SET DEFAULT
            not_deferrable = kw == "NOT" and j + 1 < len(toks) and toks[j + 1].kw == "DEFERRABLE"
            if not after_set and not not_deferrable:
                return j
        j += 1
    return j


def _parse_table_sql(sql: str | None) -> _TableSpec:
    spec = _TableSpec(columns={}, checks=[], fks=[], autoincrement=False)
    toks = _canonical_tokens(sql)
    spec.autoincrement = any(t.kw == "AUTOINCREMENT" for t in toks)
    start = next((k for k, t in enumerate(toks) if t.kind == "op" and t.text == "("), None)
    if start is None or any(t.kw == "AS" for t in toks[:start]):
        return spec  # CREATE TABLE ... AS SELECT: no constraints
    body, _ = _paren_body(toks, start)
    for part in _split_commas(body):
        first = part[0].kw
        if first in ("CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"):
            _parse_table_constraint(part, spec)
        else:
            _parse_column_def(part, spec)
    return spec


def _parse_table_constraint(part: list[_Tok], spec: _TableSpec) -> None:
    i = 2 if part[0].kw == "CONSTRAINT" else 0
    kw = part[i].kw if i < len(part) else None
    if kw == "CHECK" and i + 1 < len(part):
        end = _group_end(part, i + 1)
        spec.checks.append(_render(part[: end + 1]))
    elif kw == "FOREIGN" and i + 2 < len(part):
        paren = next((k for k in range(i, len(part)) if part[k].text == "("), None)
        if paren is None:
            return
        cols, after = _paren_body(part, paren)
        if after < len(part) and part[after].kw == "REFERENCES" and after + 1 < len(part):
            spec.fks.append(
                _FkSpec(
                    tuple(_name_of(t) for t in cols if t.text != ","),
                    _name_of(part[after + 1]),
                    _deferrable(part[after + 2 :]),
                )
            )


def _parse_column_def(part: list[_Tok], spec: _TableSpec) -> None:
    name = _name_of(part[0])
    col = _ColumnSpec()
    constraint_start: int | None = None
    j = 1
    while j < len(part):
        tok = part[j]
        kw = tok.kw
        if tok.kind == "op" and tok.text == "(":
            j = _group_end(part, j) + 1
            continue
        if kw == "CONSTRAINT":
            constraint_start = j
            j += 2
            continue
        begin = constraint_start if constraint_start is not None else j
        if kw in _COLUMN_CONSTRAINT_STARTS:
            constraint_start = None
        if kw == "COLLATE" and j + 1 < len(part):
            coll = _name_of(part[j + 1]).upper()
            col.collation = None if coll == "BINARY" else coll
            j += 2
        elif kw == "CHECK" and j + 1 < len(part) and part[j + 1].text == "(":
            end = _group_end(part, j + 1)
            spec.checks.append(_render(part[begin : end + 1]))
            j = end + 1
        elif kw == "AS" and j + 1 < len(part) and part[j + 1].text == "(":
            inner, j = _paren_body(part, j + 1)
            col.generated = _render(inner)
        elif kw == "DEFAULT" and j + 1 < len(part):
            j += 1
            while j < len(part) and part[j].kind == "op" and part[j].text in ("-", "+"):
                j += 1
            j = (_group_end(part, j) + 1) if j < len(part) and part[j].text == "(" else j + 1
        elif kw == "REFERENCES" and j + 1 < len(part):
            end = _fk_clause_end(part, j + 2)
            spec.fks.append(_FkSpec((name,), _name_of(part[j + 1]), _deferrable(part[j + 2 : end])))
            j = end
        else:
            j += 1
    spec.columns[name.lower()] = col


def _parse_index_sql(sql: str | None) -> tuple[list[str | None], str | None]:
    """Per indexed term its normalised expression text, and the partial WHERE text."""
    toks = _canonical_tokens(sql)
    on = next((k for k, t in enumerate(toks) if t.kw == "ON"), None)
    if on is None:
        return [], None
    paren = next((k for k in range(on, len(toks)) if toks[k].text == "("), None)
    if paren is None:
        return [], None
    inner, after = _paren_body(toks, paren)
    terms: list[str | None] = []
    for term in _split_commas(inner):
        if term and term[-1].kw in ("ASC", "DESC"):
            term = term[:-1]
        if len(term) >= 2 and term[-2].kw == "COLLATE":
            term = term[:-2]
        terms.append(_render(term))
    where = None
    if after < len(toks) and toks[after].kw == "WHERE":
        where = _render(_strip_semicolons(toks[after + 1 :]))
    return terms, where


def _virtual_sql(sql: str | None) -> str:
    """Normalised CREATE VIRTUAL TABLE text; module names are case-insensitive."""
    toks = _strip_semicolons(_canonical_tokens(sql))
    using = next((k for k, t in enumerate(toks) if t.kw == "USING"), None)
    if using is not None and using + 1 < len(toks) and toks[using + 1].kind == "id":
        toks[using + 1] = _Tok("id", _name_of(toks[using + 1]).lower())
    return _render(toks)


def _strip_outer_parens(text: str | None) -> str | None:
    if text is None:
        return None
    toks = _canonical_tokens(text)
    while len(toks) >= 2 and toks[0].text == "(" and _group_end(toks, 0) == len(toks) - 1:
        toks = toks[1:-1]
    return _render(toks)


# --------------------------------------------------------------------------- reading


def _upper_type(declared: str | None) -> str:
    return normalise_sql(declared).upper()


def _read_table(conn: sqlite3.Connection, name: str, sql: str | None, wr: int, strict: int) -> Table:
    spec = _parse_table_sql(sql)
    columns = []
    for cid, cname, ctype, notnull, dflt, pk, hidden in conn.execute(
        "SELECT cid, name, type, \"notnull\", dflt_value, pk, hidden "
        "FROM pragma_table_xinfo(?, 'main') ORDER BY cid",
        (name,),
    ):
        cspec = spec.columns.get(str(cname).lower(), _ColumnSpec())
        columns.append(
            Column(
                name=cname,
                type=_upper_type(ctype),
                notnull=bool(notnull),
                default=_strip_outer_parens(dflt),
                pk=int(pk),
                hidden=int(hidden),
                collation=cspec.collation,
                generated=cspec.generated if hidden in (2, 3) else None,
            )
        )

    groups: dict[int, list[tuple[Any, ...]]] = {}
    for row in conn.execute(
        "SELECT id, seq, \"table\", \"from\", \"to\", on_update, on_delete, match "
        "FROM pragma_foreign_key_list(?, 'main') ORDER BY id, seq",
        (name,),
    ):
        groups.setdefault(row[0], []).append(row)
    pending = list(spec.fks)
    fks = []
    # SQLite numbers foreign keys last-declared first; walk them in declaration order.
    for fk_id in sorted(groups, reverse=True):
        rows = groups[fk_id]
        cols = tuple(r[3] for r in rows)
        parent = rows[0][2]
        key = (tuple(c.lower() for c in cols), parent.lower())
        deferrable = ""
        for k, fs in enumerate(pending):
            if (tuple(c.lower() for c in fs.columns), fs.table.lower()) == key:
                deferrable = fs.deferrable
                del pending[k]
                break
        fks.append(
            ForeignKey(
                columns=cols,
                table=parent,
                to=tuple(r[4] for r in rows),
                on_update=str(rows[0][5]).upper(),
                on_delete=str(rows[0][6]).upper(),
                match=str(rows[0][7]).upper(),
                deferrable=deferrable,
            )
        )
    return Table(
        name=name,
        columns=tuple(columns),
        foreign_keys=tuple(sorted(fks, key=_fk_sort_key)),
        checks=tuple(sorted(spec.checks)),
        strict=bool(strict),
        without_rowid=bool(wr),
        autoincrement=spec.autoincrement,
    )


def _fk_sort_key(fk: ForeignKey) -> tuple[object, ...]:
    return (fk.columns, fk.table, tuple(t or "" for t in fk.to), fk.on_update, fk.on_delete,
            fk.match, fk.deferrable)


def _read_indexes(conn: sqlite3.Connection, table: str, sql_of: Mapping[str, str | None]) -> list[Index]:
    out = []
    for iname, unique, origin, partial in conn.execute(
        "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?, 'main') ORDER BY name",
        (table,),
    ):
        sql = sql_of.get(iname)
        terms, where = _parse_index_sql(sql)
        cols = []
        rows = conn.execute(
            "SELECT seqno, cid, name, \"desc\", coll FROM pragma_index_xinfo(?, 'main') "
            "WHERE key ORDER BY seqno",
            (iname,),
        ).fetchall()
        for k, (_seqno, cid, cname, desc, coll) in enumerate(rows):
            expr = None
            if cid == -2:
                expr = terms[k] if k < len(terms) and terms[k] is not None else "?"
                cname = None
            cols.append(IndexColumn(name=cname, expr=expr, desc=bool(desc),
                                    collation=str(coll or "BINARY").upper()))
        out.append(
            Index(
                name=iname,
                table=table,
                columns=tuple(cols),
                unique=bool(unique),
                partial=where if partial else None,
                origin=str(origin),
            )
        )
    return out


def _auto_key(index: Index) -> str:
    kind = "primary key" if index.origin == "pk" else "unique"
    names = ",".join(c.name if c.name is not None else (c.expr or "?") for c in index.columns)
    return f"{index.table}:{kind}({names})"


def read(conn: sqlite3.Connection, *, exclude_tables: Collection[str] = ()) -> Schema:
    """The normalised schema of the ``main`` database of ``conn`` (reads only).

    ``exclude_tables`` (case-insensitive) leaves those tables out, with their indexes and
    triggers; a view or virtual table of that name is left out too.
    """
    excluded = {t.lower() for t in exclude_tables}
    master = conn.execute("SELECT type, name, tbl_name, sql FROM main.sqlite_schema").fetchall()
    sql_of = {(typ, name): sql for typ, name, _tbl, sql in master}
    index_sql = {name: sql for typ, name, _tbl, sql in master if typ == "index"}

    tables: dict[str, Table] = {}
    virtual: dict[str, str] = {}
    listed = conn.execute(
        "SELECT name, type, wr, strict FROM pragma_table_list WHERE schema = 'main' ORDER BY name"
    ).fetchall()
    for name, typ, wr, strict in listed:
        if name.lower().startswith("sqlite_") or name.lower() in excluded:
            continue
        if typ == "table":
            tables[name] = _read_table(conn, name, sql_of.get(("table", name)), wr, strict)
        elif typ == "virtual":
            virtual[name] = _virtual_sql(sql_of.get(("table", name)))

    indexes: dict[str, Index] = {}
    for table in sorted(tables):
        for index in _read_indexes(conn, table, index_sql):
            key = index.name
            if index.name.startswith("sqlite_autoindex_") and index_sql.get(index.name) is None:
                base = _auto_key(index)
                key, n = base, 1
                while key in indexes:
                    n += 1
                    key = f"{base}#{n}"
                index = Index(key, index.table, index.columns, index.unique, index.partial, index.origin)
            indexes[key] = index

    triggers = {
        name: normalise_sql(sql)
        for typ, name, tbl, sql in sorted(master, key=lambda r: r[1])
        if typ == "trigger" and tbl.lower() not in excluded and name.lower() not in excluded
    }
    views = {
        name: normalise_sql(sql)
        for typ, name, _tbl, sql in sorted(master, key=lambda r: r[1])
        if typ == "view" and name.lower() not in excluded
    }
    user_version = int(conn.execute("PRAGMA main.user_version").fetchone()[0])
    return Schema(
        tables=tables,
        indexes=indexes,
        triggers=triggers,
        views=views,
        user_version=user_version,
        virtual=virtual,
    )


def read_file(db: Path, *, exclude_tables: Collection[str] = ()) -> Schema:
    """:func:`read` of a database file, through :func:`inspect.reading` (touches nothing)."""
    with reading(Path(db)) as conn:
        return read(conn, exclude_tables=exclude_tables)


# --------------------------------------------------------------------------- diff


def _fk_target(fk: ForeignKey) -> str:
    if all(t is None for t in fk.to):
        return fk.table
    return f"{fk.table}({', '.join(t if t is not None else '?' for t in fk.to)})"


def _fk_text(fk: ForeignKey) -> str:
    text = (f"foreign key ({', '.join(fk.columns)}) -> {_fk_target(fk)} "
            f"ON DELETE {fk.on_delete} ON UPDATE {fk.on_update}")
    if fk.match and fk.match != "NONE":
        text += f" MATCH {fk.match}"
    if fk.deferrable:
        text += f" {fk.deferrable}"
    return text


def _index_column_text(col: IndexColumn) -> str:
    text = col.name if col.name is not None else (col.expr or "?")
    if col.collation != "BINARY":
        text += f" COLLATE {col.collation}"
    if col.desc:
        text += " DESC"
    return text


def _generated_text(col: Column) -> str:
    if col.hidden not in (2, 3):
        return "not generated"
    kind = "STORED" if col.hidden == 3 else "VIRTUAL"
    return f"generated AS ({col.generated}) {kind}" if col.generated else f"generated {kind}"


def _list_prefix(names: list[str], upto: int) -> str:
    shown = names[: upto + 1]
    more = ", …" if len(names) > len(shown) else ""
    return f"({', '.join(shown)}{more})"


def _sql_lines(sql: str) -> list[str]:
    """Normalised SQL broken at clause boundaries, for a line diff."""
    toks = _canonical_tokens(sql)
    lines: list[list[_Tok]] = [[]]
    depth = 0
    seen_begin = False
    breaks = {"FROM", "WHERE", "GROUP", "ORDER", "HAVING", "LIMIT", "UNION", "EXCEPT",
              "INTERSECT", "SET", "VALUES"}
    for tok in toks:
        if tok.text == "(" and tok.kind == "op":
            depth += 1
        elif tok.text == ")" and tok.kind == "op":
            depth -= 1
        kw = tok.kw
        if depth == 0 and lines[-1] and (
            kw in breaks or kw == "END" and seen_begin or kw == "WHEN" and not seen_begin
        ):
            lines.append([])
        lines[-1].append(tok)
        if depth == 0 and (kw == "BEGIN" or tok.text == ";"):
            seen_begin = seen_begin or kw == "BEGIN"
            lines.append([])
    return [_render(line) for line in lines if line]


def _sql_diff(expected: str, actual: str, e_label: str, a_label: str) -> str:
    lines = []
    for line in difflib.unified_diff(
        _sql_lines(expected), _sql_lines(actual), fromfile=e_label, tofile=a_label, n=1, lineterm=""
    ):
        lines.append("    …" if line.startswith("@@") else f"    {line}")
    return "\n".join(lines)


def _flag(what: str, e: bool, E: str, A: str) -> str:
    return f"{what} in {E}, not in {A}" if e else f"{what} in {A}, not in {E}"


def _diff_columns(e: Table, a: Table, E: str, A: str) -> list[str]:
    out: list[str] = []
    ecols = {c.name: c for c in e.columns}
    acols = {c.name: c for c in a.columns}
    for c in e.columns:
        if c.name not in acols:
            out.append(f"column {c.name}: missing in {A}")
    for c in a.columns:
        if c.name not in ecols:
            out.append(f"column {c.name}: present in {A} only")
    e_order = [c.name for c in e.columns if c.name in acols]
    a_order = [c.name for c in a.columns if c.name in ecols]
    if e_order != a_order:
        first = next(k for k, (x, y) in enumerate(zip(e_order, a_order)) if x != y)
        out.append(
            f"column order differs: {E} {_list_prefix(e_order, first)}, {A} {_list_prefix(a_order, first)}"
        )
    for name in e_order:
        x, y = ecols[name], acols[name]
        if x.type != y.type:
            out.append(f"column {name}: type {x.type or '(none)'} in {E}, {y.type or '(none)'} in {A}")
        if x.notnull != y.notnull:
            out.append(
                f"column {name}: NOT NULL in {E}, nullable in {A}" if x.notnull
                else f"column {name}: nullable in {E}, NOT NULL in {A}"
            )
        if x.default != y.default:
            out.append(f"column {name}: default {x.default or 'none'} in {E}, {y.default or 'none'} in {A}")
        if x.collation != y.collation:
            out.append(f"column {name}: collation {x.collation or 'none'} in {E}, {y.collation or 'none'} in {A}")
        if (x.hidden, x.generated) != (y.hidden, y.generated):
            out.append(f"column {name}: {_generated_text(x)} in {E}, {_generated_text(y)} in {A}")
    e_pk = [c.name for c in sorted(e.columns, key=lambda c: c.pk) if c.pk]
    a_pk = [c.name for c in sorted(a.columns, key=lambda c: c.pk) if c.pk]
    if e_pk != a_pk:
        def show(pk: list[str]) -> str:
            return f"({', '.join(pk)})" if pk else "none"

        out.append(f"primary key {show(e_pk)} in {E}, {show(a_pk)} in {A}")
    return out


def _diff_fks(e: Table, a: Table, E: str, A: str) -> list[str]:
    out: list[str] = []
    ec, ac = Counter(e.foreign_keys), Counter(a.foreign_keys)
    missing = sorted((ec - ac).elements(), key=_fk_sort_key)
    extra = sorted((ac - ec).elements(), key=_fk_sort_key)
    for fk in list(missing):
        same_cols_m = [m for m in missing if m.columns == fk.columns]
        same_cols_x = [x for x in extra if x.columns == fk.columns]
        if len(same_cols_m) != 1 or len(same_cols_x) != 1:
            continue
        x = same_cols_x[0]
        missing.remove(fk)
        extra.remove(x)
        head = f"foreign key ({', '.join(fk.columns)})"
        if (fk.table, fk.to) != (x.table, x.to):
            out.append(f"{head}: target {_fk_target(fk)} in {E}, {_fk_target(x)} in {A}")
        for what, p, q in (("ON DELETE", fk.on_delete, x.on_delete), ("ON UPDATE", fk.on_update, x.on_update),
                           ("MATCH", fk.match, x.match)):
            if p != q:
                out.append(f"{head}: {what} {p} in {E}, {q} in {A}")
        if fk.deferrable != x.deferrable:
            out.append(f"{head}: {fk.deferrable or 'not deferred'} in {E}, {x.deferrable or 'not deferred'} in {A}")
    out.extend(f"{_fk_text(fk)} missing in {A}" for fk in missing)
    out.extend(f"{_fk_text(fk)} present in {A} only" for fk in extra)
    return out


def _diff_table(e: Table, a: Table, E: str, A: str) -> list[str]:
    out: list[str] = []
    for what, x, y in (("STRICT", e.strict, a.strict), ("WITHOUT ROWID", e.without_rowid, a.without_rowid),
                       ("AUTOINCREMENT", e.autoincrement, a.autoincrement)):
        if x != y:
            out.append(_flag(what, x, E, A))
    out.extend(_diff_columns(e, a, E, A))
    out.extend(_diff_fks(e, a, E, A))
    ec, ac = Counter(e.checks), Counter(a.checks)
    out.extend(f"{c} missing in {A}" for c in sorted((ec - ac).elements()))
    out.extend(f"{c} present in {A} only" for c in sorted((ac - ec).elements()))
    return out


def _diff_index(e: Index, a: Index, E: str, A: str) -> list[str]:
    out: list[str] = []
    if e.table != a.table:
        out.append(f"on table {e.table} in {E}, {a.table} in {A}")
    if e.columns != a.columns:
        def columns(index: Index) -> str:
            return ", ".join(_index_column_text(c) for c in index.columns)

        out.append(f"columns ({columns(e)}) in {E}, ({columns(a)}) in {A}")
    if e.unique != a.unique:
        out.append(_flag("UNIQUE", e.unique, E, A))
    if e.partial != a.partial:
        def where(text: str | None) -> str:
            return f"WHERE {text}" if text else "none"

        out.append(f"partial {where(e.partial)} in {E}, {where(a.partial)} in {A}")
    if e.origin != a.origin:
        out.append(f"origin {e.origin} in {E}, {a.origin} in {A}")
    return out


_RANK = {"table": 0, "virtual table": 1, "index": 2, "view": 3, "trigger": 4, "user_version": 5}


def diff(
    expected: Schema,
    actual: Schema,
    *,
    expected_label: str = "fresh install",
    actual_label: str = "upgraded",
) -> list[str]:
    """One entry per difference, naming the object and what differs; [] when identical.

    Entries are sorted by object (tables, virtual tables, indexes, views, triggers, then
    user_version; by name within each). A trigger or view whose SQL differs gets one entry
    whose first line says so, followed by an indented compact unified diff of the
    normalised SQL.
    """
    E, A = expected_label, actual_label
    found: list[tuple[int, str, int, str]] = []

    def add(kind: str, name: str, lines: Iterable[str]) -> None:
        prefix = f"{kind} {name}: " if kind != "user_version" else "user_version: "
        for k, line in enumerate(lines):
            found.append((_RANK[kind], name, k, prefix + line))

    def presence(kind: str, e: Mapping[str, Any], a: Mapping[str, Any],
                 compare: Callable[[str, Any, Any], Iterable[str]]) -> None:
        for name in sorted(set(e) | set(a)):
            if name not in a:
                add(kind, name, [f"missing in {A}"])
            elif name not in e:
                add(kind, name, [f"present in {A} only"])
            else:
                add(kind, name, compare(name, e[name], a[name]))

    presence("table", expected.tables, actual.tables, lambda n, x, y: _diff_table(x, y, E, A))
    presence("virtual table", expected.virtual, actual.virtual,
             lambda n, x, y: [] if x == y else [f"SQL differs: {x} in {E}, {y} in {A}"])
    presence("index", expected.indexes, actual.indexes, lambda n, x, y: _diff_index(x, y, E, A))
    for kind, e_map, a_map in (("view", expected.views, actual.views),
                               ("trigger", expected.triggers, actual.triggers)):
        presence(kind, e_map, a_map,
                 lambda n, x, y: [] if x == y else ["SQL differs\n" + _sql_diff(x, y, E, A)])
    if expected.user_version != actual.user_version:
        add("user_version", "", [f"{expected.user_version} in {E}, {actual.user_version} in {A}"])
    return [line for *_key, line in sorted(found, key=lambda f: f[:3])]
