"""``EXPLAIN QUERY PLAN`` as a tree, normalised across SQLite versions, and its text forms.

SQLite returns plan rows ``(id, parent, notused, detail)``; ``id`` is a bytecode address
that moves between versions, so the tree is rebuilt from ``parent`` (children in the order
SQLite gave them) and ``id`` is never compared. ``detail`` is text for humans that SQLite
rewords from release to release, so every node is normalised (pure functions on strings,
see :func:`normalise_detail`):

* ``SCAN TABLE t`` / ``SEARCH TABLE t`` (before 3.36) -> ``SCAN t`` / ``SEARCH t``, and
  ``SCAN TABLE t AS a`` -> ``SCAN a`` (3.36+ prints only the alias);
* ``SCAN SUBQUERY 1 AS s`` -> ``SCAN s``, ``SCAN SUBQUERY 1`` -> ``SCAN (subquery-1)``,
  ``MATERIALIZE 1`` -> ``MATERIALIZE s`` when a ``SCAN SUBQUERY 1 AS s`` says which;
* ``CO-ROUTINE x`` (newer builds) and ``MATERIALIZE x`` (older) -> ``MATERIALIZE x``;
* ``USE TEMP B-TREE FOR LAST TERM OF ORDER BY`` / ``LAST n TERMS OF ORDER BY`` (3.46+) ->
  ``USE TEMP B-TREE FOR RIGHT PART OF ORDER BY`` (the older wording);
* ``SCAN n CONSTANT ROWS`` (3.40) -> ``SCAN n-ROW VALUES CLAUSE`` (newer);
* subquery numbers dropped (``CORRELATED SCALAR SUBQUERY 3`` -> ``CORRELATED SCALAR
  SUBQUERY``), estimates ``(~N rows)`` dropped, whitespace collapsed;
* ``BLOOM FILTER ON t (x=?)`` (3.38+, an optimisation older builds do not report) is
  dropped from the tree (its children, if any, move up).

Index names are matched as whole names, case-insensitively, never as substrings:
``idx_a`` does not match a plan that uses ``idx_a_old`` (:func:`uses_index`).

:func:`render` gives the indented text of the ``sqlite3`` shell (``QUERY PLAN`` then
``|--`` / ``\\`--`` lines); :func:`parse_rendered` reads it back; :func:`tree_diff` compares
two rendered trees node by node.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterator, Sequence

from harness.sql import IDENT, WORD, tokenize

__all__ = [
    "PlanNode", "PlanTree", "Access", "explain", "build_tree", "normalise_detail", "normalise_nodes",
    "parse_access", "temp_btree", "index_of", "uses_index", "same_name", "table_aliases", "render",
    "parse_rendered", "tree_diff", "HEADER",
]

HEADER = "QUERY PLAN"


# --------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class PlanNode:
    detail: str  # normalised
    raw: str = ""  # as SQLite printed it (the first of several when nodes were merged)
    children: tuple["PlanNode", ...] = ()


@dataclass(frozen=True)
class PlanTree:
    sql: str
    roots: tuple[PlanNode, ...]
    sqlite_version: str = ""
    aliases: dict[str, str] = field(default_factory=dict, compare=False)  # alias (lower) -> table

    def walk(self) -> Iterator[tuple[int, PlanNode]]:
        """(depth, node) in plan order; the roots have depth 0."""
        stack: list[tuple[int, PlanNode]] = [(0, n) for n in reversed(self.roots)]
        while stack:
            depth, node = stack.pop()
            yield depth, node
            stack.extend((depth + 1, c) for c in reversed(node.children))

    def details(self) -> list[str]:
        return [node.detail for _depth, node in self.walk()]

    def accesses(self) -> list["Access"]:
        """Every table access (SCAN/SEARCH of a table, an index or a subquery) in plan order."""
        details = self.details()
        materialized = {d[len("MATERIALIZE "):].lower() for d in details if d.startswith("MATERIALIZE ")}
        out = []
        for detail in details:
            access = parse_access(detail)
            if access is None:
                continue
            if access.name.lower() in materialized and not access.subquery:
                access = replace(access, subquery=True)
            out.append(access)
        return out

    def table_of(self, access: "Access", index_tables: dict[str, str] | None = None) -> str:
        """The table an access reads: through its index, else the query's aliases, else its name."""
        if access.index and index_tables:
            for name, table in index_tables.items():
                if same_name(name, access.index):
                    return table
        return self.aliases.get(access.name.lower(), access.name)


@dataclass(frozen=True)
class Access:
    """One ``SCAN``/``SEARCH`` node, parsed from its normalised detail."""

    op: str  # "SCAN" or "SEARCH"
    name: str  # the alias (or table) as printed
    index: str | None = None  # a named index (not automatic)
    covering: bool = False  # USING COVERING INDEX
    automatic: bool = False  # USING AUTOMATIC [PARTIAL] [COVERING] INDEX
    primary_key: bool = False  # USING INTEGER PRIMARY KEY / USING PRIMARY KEY
    virtual: bool = False  # VIRTUAL TABLE INDEX
    constraint: str | None = None  # "(project_id=?)"
    subquery: bool = False  # a subquery, CTE or VALUES, not a stored table

    @property
    def full_scan(self) -> bool:
        return self.op == "SCAN"


def build_tree(rows: Sequence[Sequence[Any]], sql: str = "", sqlite_version: str = "") -> PlanTree:
    """A tree from ``EXPLAIN QUERY PLAN`` rows (id, parent, notused, detail), normalised."""
    children: dict[int, list[tuple[int, str]]] = {}
    ids = {int(r[0]) for r in rows}
    for row in rows:
        node_id, parent, detail = int(row[0]), int(row[1]), str(row[3])
        if parent not in ids:
            parent = 0
        children.setdefault(parent, []).append((node_id, detail))

    def make(parent: int, seen: frozenset[int]) -> list[PlanNode]:
        out = []
        for node_id, detail in children.get(parent, []):
            if node_id in seen:  # a malformed loop: never recurse forever
                continue
            out.append(PlanNode(detail, detail, tuple(make(node_id, seen | {node_id}))))
        return out

    roots = normalise_nodes(make(0, frozenset({0})))
    return PlanTree(sql, tuple(roots), sqlite_version, table_aliases(sql))


def explain(conn: Any, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> PlanTree:
    """The normalised plan of ``sql`` on ``conn`` (stdlib ``sqlite3`` or an APSW connection)."""
    cursor = conn.cursor()
    try:
        rows = list(cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    finally:
        close = getattr(cursor, "close", None)
        if close:
            close()
    return build_tree(rows, sql, _version_of(conn))


def _version_of(conn: Any) -> str:
    try:
        return str(next(iter(conn.cursor().execute("SELECT sqlite_version()")))[0])
    except Exception:  # noqa: BLE001 - informative only
        return ""


# --------------------------------------------------------------------------- normalisation

_WS = re.compile(r"\s+")
_ESTIMATE = re.compile(r"\s*\(~\d+ rows?\)")
_TABLE_WORD = re.compile(r"^(SCAN|SEARCH) TABLE (\S+)(?: AS (\S+))?")
_SUBQUERY_SCAN = re.compile(r"^(SCAN|SEARCH) SUBQUERY (\d+)(?: AS (\S+))?")
_COROUTINE = re.compile(r"^(?:CO-ROUTINE|MATERIALIZE) (.+)$")
_SUBQUERY_NUMBER = re.compile(r"^((?:CORRELATED )?(?:SCALAR|LIST) SUBQUERY) \d+$")
_LAST_TERMS = re.compile(r"^USE TEMP B-TREE FOR (?:LAST TERM|LAST \d+ TERMS) OF ORDER BY$")
_CONSTANT_ROWS = re.compile(r"^SCAN (\d+) CONSTANT ROWS$")
_BLOOM = re.compile(r"^BLOOM FILTER ON ")


def normalise_detail(detail: str) -> str | None:
    """One node's text in the version-independent form (``None``: drop the node).

    Context-free: ``MATERIALIZE 1`` stays numbered here; :func:`normalise_nodes` names it
    from the ``SCAN SUBQUERY 1 AS s`` that reads it.
    """
    text = _ESTIMATE.sub("", _WS.sub(" ", detail).strip())
    if _BLOOM.match(text):
        return None
    match = _TABLE_WORD.match(text)
    if match:
        op, table, alias = match.groups()
        text = f"{op} {alias or table}{text[match.end():]}"
    match = _SUBQUERY_SCAN.match(text)
    if match:
        op, number, alias = match.groups()
        text = f"{op} {alias or f'(subquery-{number})'}{text[match.end():]}"
    match = _COROUTINE.match(text)
    if match:
        text = f"MATERIALIZE {match.group(1)}"
    match = _SUBQUERY_NUMBER.match(text)
    if match:
        text = match.group(1)
    if _LAST_TERMS.match(text):
        text = "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY"
    match = _CONSTANT_ROWS.match(text)
    if match:
        text = f"SCAN {match.group(1)}-ROW VALUES CLAUSE"
    return text


def normalise_nodes(nodes: Sequence[PlanNode]) -> list[PlanNode]:
    """Normalise raw nodes (``detail`` as printed): per node, then names from context."""
    names: dict[str, str] = {}  # subquery number -> alias, from old-style SCAN SUBQUERY n AS alias

    def collect(ns: Sequence[PlanNode]) -> None:
        for n in ns:
            m = _SUBQUERY_SCAN.match(_WS.sub(" ", n.raw).strip())
            if m and m.group(3):
                names[m.group(2)] = m.group(3)
            collect(n.children)

    def fix(ns: Sequence[PlanNode]) -> list[PlanNode]:
        out: list[PlanNode] = []
        for n in ns:
            kids = fix(n.children)
            text = normalise_detail(n.raw or n.detail)
            if text is None:
                out.extend(kids)
                continue
            m = re.match(r"^MATERIALIZE (\d+)$", text)
            if m:
                number = m.group(1)
                text = f"MATERIALIZE {names.get(number, f'(subquery-{number})')}"
            out.append(PlanNode(text, n.raw or n.detail, tuple(kids)))
        return out

    collect(nodes)
    return fix(nodes)


# --------------------------------------------------------------------------- node facts

_ACCESS = re.compile(r"^(SCAN|SEARCH) (.+?)(?: USING (.*?))?(?: (LEFT-JOIN|RIGHT-JOIN))?$")
_CONSTRAINT = re.compile(r"^(.*?)(?: (\(.*\)))?$")


def parse_access(detail: str) -> Access | None:
    """The table access a normalised node describes, or ``None`` (temp B-tree, subquery ...)."""
    if detail == "SCAN CONSTANT ROW" or re.match(r"^SCAN \d+-ROW VALUES CLAUSE$", detail):
        return Access("SCAN", "(values)", subquery=True)
    match = _ACCESS.match(detail)
    if not match:
        return None
    op, name, using, _join = match.groups()
    virtual = False
    if using is None and " VIRTUAL TABLE INDEX " in f" {name} ":
        name, _, _rest = name.partition(" VIRTUAL TABLE INDEX ")
        virtual = True
    subquery = name.startswith("(subquery-") or name.startswith("(")
    if not using:
        return Access(op, name, virtual=virtual, subquery=subquery)
    body, constraint = _CONSTRAINT.match(using).groups()  # type: ignore[union-attr]
    if body.startswith("AUTOMATIC"):
        return Access(op, name, automatic=True, covering="COVERING" in body, constraint=constraint)
    if body in ("INTEGER PRIMARY KEY", "PRIMARY KEY", "ROWID"):
        return Access(op, name, primary_key=True, constraint=constraint)
    index = re.match(r"^(COVERING )?INDEX (.+)$", body)
    if index:
        return Access(op, name, index=index.group(2), covering=bool(index.group(1)), constraint=constraint)
    return Access(op, name, constraint=constraint, subquery=subquery)


def temp_btree(detail: str) -> str | None:
    """What a temp B-tree node is for: ``ORDER BY``, ``GROUP BY``, ``DISTINCT`` ... or ``None``.

    ``RIGHT PART OF ORDER BY`` (a partial sort) is ``ORDER BY``; ``count(DISTINCT)`` is
    ``DISTINCT``; a compound's ``UNION USING TEMP B-TREE`` is ``UNION``.
    """
    match = re.match(r"^USE TEMP B-TREE FOR (.+)$", detail)
    if match:
        purpose = match.group(1)
        if purpose.endswith("ORDER BY"):
            return "ORDER BY"
        if "DISTINCT" in purpose.upper():
            return "DISTINCT"
        return purpose
    match = re.match(r"^(UNION|EXCEPT|INTERSECT) USING TEMP B-TREE$", detail)
    return match.group(1) if match else None


def index_of(detail: str) -> str | None:
    access = parse_access(detail)
    return access.index if access else None


def same_name(a: str, b: str) -> bool:
    """SQLite names compare case-insensitively (ASCII), and only as whole names."""
    return a.strip('"`[]').lower() == b.strip('"`[]').lower()


def uses_index(tree: PlanTree, index: str, table: str | None = None,
               index_tables: dict[str, str] | None = None) -> bool:
    """Whether some access in ``tree`` uses the index named exactly ``index`` (for ``table``)."""
    for access in tree.accesses():
        if access.index and same_name(access.index, index):
            if table is None or same_name(tree.table_of(access, index_tables), table):
                return True
    return False


# --------------------------------------------------------------------------- aliases

_STOP = frozenset("""ON USING WHERE JOIN LEFT RIGHT FULL INNER OUTER CROSS NATURAL GROUP ORDER LIMIT HAVING
    WINDOW UNION EXCEPT INTERSECT INDEXED NOT SET RETURNING VALUES SELECT FROM AS""".split())


def table_aliases(sql: str) -> dict[str, str]:
    """Alias (lower-cased) -> table for every ``FROM``/``JOIN`` item of ``sql`` naming a table.

    Newer SQLite prints only the alias (``SCAN r``); this maps it back to ``runs``. Read from
    the tokens, not parsed: subqueries' aliases are not tables and are left out.
    """
    toks = tokenize(sql)
    out: dict[str, str] = {}
    in_from = [False]  # per parenthesis depth: inside a FROM clause

    def word(k: int) -> str:
        return (toks[k].word or "") if k < len(toks) else ""

    def name_at(k: int) -> bool:
        return k < len(toks) and (toks[k].kind == IDENT or (toks[k].kind == WORD and word(k) not in _STOP))

    def item(k: int) -> int:
        """Read ``[schema.]table [[AS] alias]`` at k; returns the index after it."""
        if not name_at(k):
            return k
        table = toks[k].unquoted or ""
        k += 1
        if k + 1 < len(toks) and toks[k].is_op(".") and name_at(k + 1):
            table = toks[k + 1].unquoted or ""
            k += 2
        if k < len(toks) and toks[k].is_op("("):  # a table-valued function, not a table
            return k
        alias = table
        if word(k) == "AS":
            k += 1
        if name_at(k):
            alias = toks[k].unquoted or ""
            k += 1
        out[alias.lower()] = table
        out.setdefault(table.lower(), table)
        return k

    i = 0
    while i < len(toks):
        upper = word(i)
        if toks[i].is_op("("):
            in_from.append(False)
        elif toks[i].is_op(")"):
            if len(in_from) > 1:
                in_from.pop()
        elif upper in ("FROM", "JOIN", "UPDATE", "INTO"):
            in_from[-1] = upper in ("FROM", "JOIN")
            i = item(i + 1)
            continue
        elif toks[i].is_op(",") and in_from[-1]:
            i = item(i + 1)
            continue
        elif upper in ("WHERE", "GROUP", "ORDER", "LIMIT", "HAVING", "WINDOW", "UNION", "EXCEPT", "INTERSECT",
                       "SET", "RETURNING", "VALUES", "SELECT"):
            in_from[-1] = False
        i += 1
    return out


# --------------------------------------------------------------------------- text forms


def render(tree: PlanTree | Sequence[PlanNode]) -> str:
    """The tree as the ``sqlite3`` shell draws it (``QUERY PLAN``, ``|--``, ``\\`--``)."""
    roots = tree.roots if isinstance(tree, PlanTree) else tuple(tree)
    lines = [HEADER]

    def draw(nodes: Sequence[PlanNode], prefix: str) -> None:
        for k, node in enumerate(nodes):
            last = k == len(nodes) - 1
            lines.append(f"{prefix}{'`--' if last else '|--'}{node.detail}")
            draw(node.children, prefix + ("   " if last else "|  "))

    draw(roots, "")
    return "\n".join(lines) + "\n"


_LINE = re.compile(r"^((?:[|` ] {2})*)([|`]--)(.*)$")


def parse_rendered(text: str) -> tuple[PlanNode, ...]:
    """Nodes from :func:`render`'s text; ``#`` comment lines and blank lines are ignored.

    Lines without connectors are taken as two-space indented (``  SCAN t`` is a child).
    """
    Items = list[tuple[str, Any]]  # (detail, children in the same shape)
    stack: list[tuple[int, Items]] = [(-1, [])]
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or line.strip() == HEADER:
            continue
        match = _LINE.match(line)
        if match:
            depth, detail = len(match.group(1)) // 3, match.group(3).strip()
        else:
            stripped = line.lstrip(" ")
            depth, detail = (len(line) - len(stripped)) // 2, stripped.strip()
        while stack and stack[-1][0] >= depth:
            stack.pop()
        kids: Items = []
        stack[-1][1].append((detail, kids))
        stack.append((depth, kids))

    def build(items: Items) -> tuple[PlanNode, ...]:
        return tuple(PlanNode(detail, detail, build(kids)) for detail, kids in items)

    return build(stack[0][1])


def tree_diff(expected_text: str, actual_text: str) -> list[str]:
    """Per-node differences between two rendered plans; ``[]`` when they are the same tree.

    The result is the merged tree, one node per line, indented by depth: ``"  "`` a node
    in both, ``"- "`` only in the expected plan (the baseline), ``"+ "`` only in the
    actual one. Children of a node present in both are compared in turn, so a change deep
    in a join shows where it is.
    """
    expected, actual = parse_rendered(expected_text), parse_rendered(actual_text)
    lines: list[str] = []
    changed = _diff_level(expected, actual, 1, lines)
    return ([f"  {HEADER}"] + lines) if changed else []


def _subtree(node: PlanNode, depth: int, mark: str, lines: list[str]) -> None:
    lines.append(f"{mark} {'   ' * depth}{node.detail}")
    for child in node.children:
        _subtree(child, depth + 1, mark, lines)


def _diff_level(old: Sequence[PlanNode], new: Sequence[PlanNode], depth: int, lines: list[str]) -> bool:
    matcher = difflib.SequenceMatcher(a=[n.detail for n in old], b=[n.detail for n in new], autojunk=False)
    changed = False
    indent = "   " * depth
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for a, b in zip(old[i1:i2], new[j1:j2]):
                lines.append(f"  {indent}{a.detail}")
                changed |= _diff_level(a.children, b.children, depth + 1, lines)
            continue
        changed = True
        if op == "replace" and i2 - i1 == j2 - j1:  # one node reworded: compare what is below it
            for a, b in zip(old[i1:i2], new[j1:j2]):
                lines.append(f"- {indent}{a.detail}")
                lines.append(f"+ {indent}{b.detail}")
                sub: list[str] = []
                _diff_level(a.children, b.children, depth + 1, sub)
                lines.extend(sub)
            continue
        for a in old[i1:i2]:
            _subtree(a, depth, "-", lines)
        for b in new[j1:j2]:
            _subtree(b, depth, "+", lines)
    return changed
