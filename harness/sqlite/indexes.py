"""Index presence and shape: expected indexes, unindexed foreign keys, redundant indexes.

Everything is judged on :class:`harness.sqlite.schema.Schema` (read with PRAGMAs, partial
WHERE and expression terms normalised by ``schema.normalise_sql``):

* :func:`check_expected` -- each expected index exists on its table with exactly its
  columns in order (``DESC`` and ``COLLATE`` included), its uniqueness and its partial
  ``WHERE`` (compared normalised, so spacing, case and quoting do not matter);
* :func:`unindexed_foreign_keys` -- a foreign key whose child columns are not the leading
  columns (in any order) of some full (non-partial) index, the rowid or the primary key:
  every parent delete/update then scans the child table;
* :func:`redundant_indexes` -- an index whose columns are a leading prefix of another
  index's on the same table (or identical to it): it costs writes and space and answers
  nothing the longer one does not. UNIQUE and PRIMARY KEY indexes enforce something and
  are never reported; partial indexes only against one with the same WHERE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from harness.sql import IDENT, STRING, WORD, tokenize
from harness.sqlite.schema import Index, IndexColumn, Schema, Table, normalise_sql

__all__ = ["ExpectedIndex", "Finding", "parse_column", "check_expected", "unindexed_foreign_keys",
           "redundant_indexes", "describe_index"]


@dataclass(frozen=True)
class ExpectedColumn:
    name: str | None  # None for an expression term
    expr: str | None  # normalised expression text
    desc: bool = False
    collation: str | None = None  # None: not checked


@dataclass(frozen=True)
class ExpectedIndex:
    name: str
    table: str
    columns: tuple[str, ...]  # "created_at DESC", "title COLLATE NOCASE", "lower(title)"
    unique: bool | None = None  # None: not checked
    where: str | None = None  # partial WHERE; None with partial=False means "not partial"
    partial: bool | None = None  # None: follows ``where`` (a where given -> partial)


@dataclass(frozen=True)
class Finding:
    table: str
    subject: str  # the index or the foreign key
    message: str


def parse_column(spec: str) -> ExpectedColumn:
    """``"created_at DESC"`` / ``"title COLLATE NOCASE"`` / ``"lower(title) DESC"``."""
    tokens = tokenize(spec)
    desc = False
    if tokens and tokens[-1].word in ("ASC", "DESC"):
        desc = tokens.pop().word == "DESC"
    collation = None
    if len(tokens) >= 2 and tokens[-2].word == "COLLATE":
        collation = (tokens.pop().unquoted or "").upper()
        tokens.pop()
    if len(tokens) == 1 and tokens[0].kind in (WORD, IDENT):
        return ExpectedColumn(tokens[0].unquoted, None, desc, collation)
    text = spec[tokens[0].start:tokens[-1].end] if tokens else ""
    return ExpectedColumn(None, normalise_sql(text), desc, collation)


def _column_text(col: IndexColumn) -> str:
    text = col.name if col.name is not None else (col.expr or "?")
    if col.collation and col.collation != "BINARY":
        text += f" COLLATE {col.collation}"
    return text + (" DESC" if col.desc else "")


def describe_index(index: Index) -> str:
    unique = "UNIQUE " if index.unique else ""
    where = f" WHERE {index.partial}" if index.partial else ""
    return f"{unique}INDEX {index.name} ON {index.table} ({', '.join(_column_text(c) for c in index.columns)}){where}"


def _lower(name: str | None) -> str | None:
    return name.lower() if name is not None else None


def _column_matches(want: ExpectedColumn, got: IndexColumn) -> bool:
    if want.name is not None:
        if _lower(got.name) != want.name.lower():
            return False
    elif normalise_sql(got.expr or "") != want.expr:
        return False
    if want.desc != got.desc:
        return False
    return want.collation is None or want.collation == (got.collation or "BINARY").upper()


def _find(schema: Schema, name: str) -> Index | None:
    for key, index in schema.indexes.items():
        if key.lower() == name.lower():
            return index
    return None


def check_expected(schema: Schema, expected: Iterable[ExpectedIndex]) -> list[str]:
    """One problem per expected index that is missing or differs; ``[]`` when all are right."""
    problems: list[str] = []
    for want in expected:
        got = _find(schema, want.name)
        if got is None:
            same_shape = [i.name for i in schema.indexes.values() if i.table.lower() == want.table.lower()
                          and _columns_equal(want, i)]
            hint = f" (an index with these columns exists as {', '.join(same_shape)})" if same_shape else ""
            problems.append(f"index {want.name} on {want.table}: missing{hint}")
            continue
        where = f"index {want.name}"
        if got.table.lower() != want.table.lower():
            problems.append(f"{where}: on table {got.table}, expected {want.table}")
        if not _columns_equal(want, got):
            problems.append(f"{where}: columns ({', '.join(_column_text(c) for c in got.columns)}), "
                            f"expected ({', '.join(c.strip() for c in want.columns)})")
        if want.unique is not None and want.unique != got.unique:
            problems.append(f"{where}: {'not ' if not got.unique else ''}UNIQUE, expected "
                            f"{'UNIQUE' if want.unique else 'not UNIQUE'}")
        partial = want.partial if want.partial is not None else (want.where is not None or None)
        if want.where is not None:
            expected_where = normalise_sql(want.where)
            if got.partial is None:
                problems.append(f"{where}: not partial, expected WHERE {expected_where}")
            elif not same_where(got.partial, want.where):
                problems.append(f"{where}: WHERE {got.partial}, expected WHERE {expected_where}")
        elif partial is False and got.partial is not None:
            problems.append(f"{where}: partial (WHERE {got.partial}), expected a full index")
    return problems


def same_where(a: str, b: str) -> bool:
    """Two WHERE texts equal once normalised, identifiers compared case-insensitively."""
    def fold(text: str) -> str:
        return "".join(t.text if t.kind == STRING else t.text.lower()
                       for t in tokenize(normalise_sql(text), trivia=True))

    return fold(a) == fold(b)


def _columns_equal(want: ExpectedIndex, got: Index) -> bool:
    wanted = [parse_column(c) for c in want.columns]
    return len(wanted) == len(got.columns) and all(_column_matches(w, g) for w, g in zip(wanted, got.columns))


def _rowid_alias(table: Table) -> str | None:
    pk = [c for c in table.columns if c.pk]
    if len(pk) == 1 and pk[0].type == "INTEGER" and not table.without_rowid:
        return pk[0].name
    return None


def _leading_sets(schema: Schema, table: Table) -> list[tuple[str, ...]]:
    """Per usable (non-partial) index on ``table``: its column names, lower-cased, in order."""
    out = []
    for index in schema.indexes.values():
        if index.table.lower() != table.name.lower() or index.partial is not None:
            continue
        out.append(tuple((c.name or "\0expr").lower() for c in index.columns))
    alias = _rowid_alias(table)
    if alias:
        out.append((alias.lower(),))
    if table.without_rowid:
        out.append(tuple(c.name.lower() for c in sorted((c for c in table.columns if c.pk), key=lambda c: c.pk)))
    return out


def unindexed_foreign_keys(schema: Schema, tables: Sequence[str] | None = None) -> list[Finding]:
    """Foreign keys whose child columns lead no full index (so parent changes scan the child)."""
    found: list[Finding] = []
    for name in sorted(schema.tables):
        if tables is not None and name.lower() not in {t.lower() for t in tables}:
            continue
        table = schema.tables[name]
        leading = _leading_sets(schema, table)
        for fk in table.foreign_keys:
            cols = tuple(c.lower() for c in fk.columns)
            if any(len(idx) >= len(cols) and set(idx[: len(cols)]) == set(cols) for idx in leading):
                continue
            found.append(Finding(name, f"({', '.join(fk.columns)}) -> {fk.table}",
                                 f"foreign key {name}({', '.join(fk.columns)}) -> {fk.table} has no index "
                                 f"leading with its column{'s' if len(cols) > 1 else ''}: every delete or "
                                 f"key update in {fk.table} scans {name}"))
    return found


def _key(col: IndexColumn) -> tuple[str | None, str | None, bool, str]:
    return ((col.name or "").lower(), col.expr, col.desc, (col.collation or "BINARY").upper())


def redundant_indexes(schema: Schema) -> list[Finding]:
    """Indexes made useless by another on the same table (a leading prefix of it, or identical)."""
    found: list[Finding] = []
    indexes = sorted(schema.indexes.values(), key=lambda i: (i.table.lower(), i.name.lower()))
    for a in indexes:
        if a.unique or a.origin != "c":
            continue  # enforces a constraint: not redundant
        for b in indexes:
            if b is a or b.table.lower() != a.table.lower() or (a.partial or None) != (b.partial or None):
                continue
            ka, kb = [_key(c) for c in a.columns], [_key(c) for c in b.columns]
            if len(ka) > len(kb) or kb[: len(ka)] != ka:
                continue
            if len(ka) == len(kb) and not b.unique and b.origin == "c" and a.name.lower() < b.name.lower():
                continue  # identical twins: report only the later name
            relation = "duplicates" if len(ka) == len(kb) else "is a prefix of"
            cols_a = ", ".join(_column_text(c) for c in a.columns)
            cols_b = ", ".join(_column_text(c) for c in b.columns)
            found.append(Finding(a.table, a.name, f"index {a.name} ({cols_a}) {relation} {b.name} ({cols_b})"))
            break
    return found
