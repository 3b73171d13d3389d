"""Plan parsing and normalisation on literal detail strings of old and new SQLite, index token
matching, tree text and tree diffs, the [checks.plans] spec, and index presence facts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from harness.errors import InputError
from harness.plans import spec as spec_mod
from harness.scenario import FamilySpec
from harness.sqlite import indexes as idx
from harness.sqlite import schema
from harness.sqlite.plans import (
    PlanNode,
    PlanTree,
    build_tree,
    explain,
    normalise_detail,
    parse_access,
    parse_rendered,
    render,
    same_name,
    table_aliases,
    temp_btree,
    tree_diff,
    uses_index,
)

# --------------------------------------------------------------------------- normalisation

OLD_AND_NEW = [
    # (as SQLite printed it, normalised)
    ("SCAN TABLE runs", "SCAN runs"),  # < 3.36
    ("SCAN runs", "SCAN runs"),  # 3.36+
    ("SCAN TABLE runs AS r", "SCAN r"),
    ("SEARCH TABLE runs AS r USING INDEX idx_runs_project_created (project_id=?)",
     "SEARCH r USING INDEX idx_runs_project_created (project_id=?)"),
    ("SEARCH TABLE talk_projects USING INTEGER PRIMARY KEY (rowid=?)",
     "SEARCH talk_projects USING INTEGER PRIMARY KEY (rowid=?)"),
    ("SCAN TABLE runs USING COVERING INDEX idx_runs_feedback", "SCAN runs USING COVERING INDEX idx_runs_feedback"),
    ("SEARCH TABLE books_authors AS rhs USING AUTOMATIC COVERING INDEX (book_id=?)",
     "SEARCH rhs USING AUTOMATIC COVERING INDEX (book_id=?)"),
    ("USE TEMP B-TREE FOR RIGHT PART OF ORDER BY", "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY"),  # < 3.46
    ("USE TEMP B-TREE FOR LAST TERM OF ORDER BY", "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY"),  # 3.46+
    ("USE TEMP B-TREE FOR LAST 2 TERMS OF ORDER BY", "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY"),
    ("USE TEMP B-TREE FOR ORDER BY", "USE TEMP B-TREE FOR ORDER BY"),
    ("MATERIALIZE s", "MATERIALIZE s"),  # older builds
    ("CO-ROUTINE s", "MATERIALIZE s"),  # newer builds, same subquery
    ("SCAN SUBQUERY 1 AS j", "SCAN j"),  # < 3.36
    ("SCAN SUBQUERY 2", "SCAN (subquery-2)"),
    ("CORRELATED SCALAR SUBQUERY 3", "CORRELATED SCALAR SUBQUERY"),
    ("LIST SUBQUERY 1", "LIST SUBQUERY"),
    ("SCAN 3 CONSTANT ROWS", "SCAN 3-ROW VALUES CLAUSE"),  # 3.40
    ("SCAN 3-ROW VALUES CLAUSE", "SCAN 3-ROW VALUES CLAUSE"),  # newer
    ("SCAN TABLE t (~1000000 rows)", "SCAN t"),  # pre-3.24 estimates
    ("  SEARCH   r  USING INDEX i (a=?)  ", "SEARCH r USING INDEX i (a=?)"),
    ("MERGE (UNION)", "MERGE (UNION)"),
    ("SEARCH r USING INDEX i (a=?) LEFT-JOIN", "SEARCH r USING INDEX i (a=?) LEFT-JOIN"),
]


@pytest.mark.parametrize(("raw", "normalised"), OLD_AND_NEW)
def test_normalise_detail(raw: str, normalised: str) -> None:
    assert normalise_detail(raw) == normalised


def test_bloom_filters_are_dropped() -> None:
    assert normalise_detail("BLOOM FILTER ON n (body=?)") is None
    rows = [(3, 0, 0, "SCAN r"), (7, 0, 0, "BLOOM FILTER ON n (body=?)"),
            (21, 0, 0, "SEARCH n USING AUTOMATIC COVERING INDEX (body=?)")]
    assert build_tree(rows).details() == ["SCAN r", "SEARCH n USING AUTOMATIC COVERING INDEX (body=?)"]


def test_old_and_new_rows_give_the_same_tree() -> None:
    """The same query as 3.31 and as 3.46+ print it: ids, wording and bloom filters differ."""
    old = [
        (3, 0, 0, "MATERIALIZE 1"),
        (7, 3, 0, "SEARCH TABLE books_authors AS rhs USING AUTOMATIC COVERING INDEX (book_id=?)"),
        (9, 3, 0, "USE TEMP B-TREE FOR GROUP BY"),
        (23, 0, 0, "SCAN SUBQUERY 1 AS j"),
        (25, 0, 0, "SEARCH TABLE authors USING INTEGER PRIMARY KEY (rowid=?)"),
        (40, 0, 0, "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY"),
    ]
    new = [
        (2, 0, 216, "CO-ROUTINE j"),
        (6, 2, 0, "BLOOM FILTER ON rhs (book_id=?)"),
        (8, 2, 57, "SEARCH rhs USING AUTOMATIC COVERING INDEX (book_id=?)"),
        (11, 2, 0, "USE TEMP B-TREE FOR GROUP BY"),
        (30, 0, 44, "SCAN j"),
        (33, 0, 45, "SEARCH authors USING INTEGER PRIMARY KEY (rowid=?)"),
        (52, 0, 0, "USE TEMP B-TREE FOR LAST TERM OF ORDER BY"),
    ]
    assert render(build_tree(old)) == render(build_tree(new)) == (
        "QUERY PLAN\n"
        "|--MATERIALIZE j\n"
        "|  |--SEARCH rhs USING AUTOMATIC COVERING INDEX (book_id=?)\n"
        "|  `--USE TEMP B-TREE FOR GROUP BY\n"
        "|--SCAN j\n"
        "|--SEARCH authors USING INTEGER PRIMARY KEY (rowid=?)\n"
        "`--USE TEMP B-TREE FOR RIGHT PART OF ORDER BY\n"
    )


def test_tree_is_built_from_parent_not_id_order() -> None:
    rows = [(2, 0, 0, "MERGE (UNION)"), (4, 2, 0, "LEFT"), (8, 4, 0, "SEARCH runs USING INDEX a (x=?)"),
            (26, 2, 0, "RIGHT"), (30, 26, 0, "SCAN quest_attempts")]
    tree = build_tree(rows)
    assert [(d, n.detail) for d, n in tree.walk()] == [
        (0, "MERGE (UNION)"), (1, "LEFT"), (2, "SEARCH runs USING INDEX a (x=?)"), (1, "RIGHT"),
        (2, "SCAN quest_attempts")]


def test_parse_access_forms() -> None:
    a = parse_access("SEARCH r USING COVERING INDEX idx_x (a=? AND b>?)")
    assert a and a.op == "SEARCH" and a.name == "r" and a.index == "idx_x" and a.covering
    assert a.constraint == "(a=? AND b>?)"
    b = parse_access("SEARCH n USING AUTOMATIC PARTIAL COVERING INDEX (body=?)")
    assert b and b.automatic and b.index is None
    c = parse_access("SEARCH p USING INTEGER PRIMARY KEY (rowid=?)")
    assert c and c.primary_key and not c.full_scan
    d = parse_access("SCAN t")
    assert d and d.full_scan and d.index is None
    e = parse_access("SEARCH r USING INDEX my_idx (ANY(b) AND c=?) LEFT-JOIN")
    assert e and e.index == "my_idx"
    assert parse_access("USE TEMP B-TREE FOR ORDER BY") is None
    assert parse_access("SCAN CONSTANT ROW").subquery  # type: ignore[union-attr]


def test_temp_btree_purposes() -> None:
    assert temp_btree("USE TEMP B-TREE FOR ORDER BY") == "ORDER BY"
    assert temp_btree("USE TEMP B-TREE FOR RIGHT PART OF ORDER BY") == "ORDER BY"
    assert temp_btree(normalise_detail("USE TEMP B-TREE FOR LAST 3 TERMS OF ORDER BY") or "") == "ORDER BY"
    assert temp_btree("USE TEMP B-TREE FOR GROUP BY") == "GROUP BY"
    assert temp_btree("USE TEMP B-TREE FOR DISTINCT") == "DISTINCT"
    assert temp_btree("USE TEMP B-TREE FOR count(DISTINCT)") == "DISTINCT"
    assert temp_btree("SCAN t") is None


# --------------------------------------------------------------------------- index names as tokens


def test_index_names_match_as_whole_tokens() -> None:
    tree = build_tree([(2, 0, 0, "SEARCH runs USING INDEX idx_a_old (project_id=?)")], "SELECT * FROM runs")
    assert not uses_index(tree, "idx_a")  # a substring match would say yes
    assert uses_index(tree, "idx_a_old")
    assert uses_index(tree, "IDX_A_OLD")  # SQLite names are case-insensitive
    other = build_tree([(2, 0, 0, "SCAN t USING COVERING INDEX idx_a")])
    assert uses_index(other, "idx_a") and not uses_index(other, "idx_a_old") and not uses_index(other, "idx")
    assert same_name('"idx_a"', "idx_a") and not same_name("idx_a", "idx_ab")


def test_index_match_for_a_table_through_aliases() -> None:
    sql = "SELECT * FROM talk_projects AS p JOIN runs r ON r.project_id = p.id WHERE p.talk_number = ?"
    tree = build_tree([(6, 0, 0, "SEARCH p USING INDEX idx_talk_projects_talk_number (talk_number=?)"),
                       (13, 0, 0, "SEARCH r USING INDEX idx_runs_project_created (project_id=?)")], sql)
    assert uses_index(tree, "idx_runs_project_created", "runs")
    assert not uses_index(tree, "idx_runs_project_created", "talk_projects")
    assert uses_index(tree, "idx_talk_projects_talk_number", "talk_projects")
    # an old build names the table itself: the same answers
    old = build_tree([(6, 0, 0, "SEARCH TABLE talk_projects AS p USING INDEX idx_talk_projects_talk_number "
                                 "(talk_number=?)")], sql)
    assert uses_index(old, "idx_talk_projects_talk_number", "talk_projects")


def test_table_aliases() -> None:
    sql = ("SELECT r.id FROM runs AS r JOIN talk_projects p ON p.id = r.project_id, main.quests q, "
           "(SELECT 1 FROM feedback_notes) s WHERE r.id IN (SELECT run_id FROM peer_reviews pr) ORDER BY r.id")
    aliases = table_aliases(sql)
    assert aliases["r"] == "runs" and aliases["p"] == "talk_projects" and aliases["q"] == "quests"
    assert aliases["pr"] == "peer_reviews" and aliases["feedback_notes"] == "feedback_notes"
    assert "s" not in aliases and "order" not in aliases


# --------------------------------------------------------------------------- text and diff


def test_render_and_parse_round_trip() -> None:
    tree = build_tree([(2, 0, 0, "MERGE (UNION)"), (4, 2, 0, "LEFT"), (8, 4, 0, "SCAN a"), (26, 2, 0, "RIGHT"),
                       (30, 26, 0, "SCAN b"), (40, 0, 0, "USE TEMP B-TREE FOR ORDER BY")])
    text = render(tree)
    assert text == ("QUERY PLAN\n|--MERGE (UNION)\n|  |--LEFT\n|  |  `--SCAN a\n|  `--RIGHT\n|     `--SCAN b\n"
                    "`--USE TEMP B-TREE FOR ORDER BY\n")
    back = PlanTree("", parse_rendered("# a comment\n" + text))
    assert render(back) == text


def test_tree_diff_is_per_node() -> None:
    expected = "QUERY PLAN\n`--SEARCH runs USING INDEX idx_runs_project_created (project_id=?)\n"
    actual = "QUERY PLAN\n|--SCAN runs\n`--USE TEMP B-TREE FOR ORDER BY\n"
    assert tree_diff(expected, expected) == []
    assert tree_diff("# comments are not compared\n" + expected, expected) == []
    assert tree_diff(expected, actual) == [
        "  QUERY PLAN",
        "-    SEARCH runs USING INDEX idx_runs_project_created (project_id=?)",
        "+    SCAN runs",
        "+    USE TEMP B-TREE FOR ORDER BY",
    ]


def test_tree_diff_shows_where_a_nested_change_is() -> None:
    before = PlanTree("", (PlanNode("MATERIALIZE s", children=(PlanNode("SCAN runs USING COVERING INDEX a"),
                                                                  PlanNode("USE TEMP B-TREE FOR GROUP BY"))),
                           PlanNode("SCAN s"), PlanNode("SEARCH p USING INDEX pk (id=?)")))
    after = PlanTree("", (PlanNode("MATERIALIZE s", children=(PlanNode("SCAN runs"),
                                                                 PlanNode("USE TEMP B-TREE FOR GROUP BY"))),
                          PlanNode("SCAN s"), PlanNode("SEARCH p USING INDEX pk (id=?)")))
    assert tree_diff(render(before), render(after)) == [
        "  QUERY PLAN",
        "     MATERIALIZE s",
        "-       SCAN runs USING COVERING INDEX a",
        "+       SCAN runs",
        "        USE TEMP B-TREE FOR GROUP BY",
        "     SCAN s",
        "     SEARCH p USING INDEX pk (id=?)",
    ]


def test_explain_on_stdlib() -> None:
    conn = sqlite3.connect(":memory:")
    conn.executescript("CREATE TABLE t(a, b); CREATE INDEX t_a ON t(a); CREATE INDEX t_a_old ON t(a, b);")
    tree = explain(conn, "SELECT b FROM t WHERE a = ? ORDER BY b", (1,))
    assert tree.sqlite_version == sqlite3.sqlite_version
    assert tree.details()[0].startswith("SEARCH t USING")


# --------------------------------------------------------------------------- the spec


def family(params: dict, lines: dict | None = None) -> FamilySpec:
    return FamilySpec(family="plans", line=10, params=params, key_lines=lines or {})


def test_spec_parses_queries_datasets_and_indexes(tmp_path: Path) -> None:
    suite = spec_mod.parse(tmp_path / "s.toml", family({
        "datasets": {"big": {"rows": {"runs": 10}, "scale": 2.5, "stats": "pinned",
                             "stat1": [["runs", "idx_r", "50000 25 1"], {"table": "runs", "stat": "50000"}]}},
        "queries": [
            {"name": "q1", "sql": "SELECT 1 FROM runs WHERE a = ?", "params": [1],
             "expect": {"uses_index": ["idx_r", {"table": "runs", "index": "idx_s"}], "no_full_scan": True,
                        "no_temp_btree": ["order by"], "covering": ["runs"], "no_automatic_index": True},
             "budget": {"vm_steps": 100, "sorts": {"limit": 0, "severity": "warn"}}},
            {"name": "q2", "sql": "SELECT :x", "params": {"x": 1}, "baseline": False},
        ],
        "expected_indexes": [{"name": "idx_r", "table": "runs", "columns": ["a", "b DESC"], "where": "a > 0"}],
    }), seed=5, suite="demo")
    q1, q2 = suite.queries
    assert q1.dataset == "big" and q1.bound() == (1,) and q2.bound() == {"x": 1} and q2.named
    assert q1.expect.no_full_scan == spec_mod.ALL and q1.expect.no_temp_btree == ("ORDER BY",)
    assert [u.describe() for u in q1.expect.uses_index] == ["idx_r", "idx_s (on runs)"]
    assert spec_mod.check_ids(q1) == {"uses-index", "no-full-scan", "no-temp-btree", "covering",
                                      "no-automatic-index", "budget", "budget-warn", "baseline"}
    assert spec_mod.check_ids(q2) == frozenset()
    big = suite.datasets["big"]
    assert big.row_counts() == {"runs": 25} and big.seed == 5
    assert big.stat1[1] == spec_mod.StatRow("runs", None, "50000")
    assert suite.baseline_dir == tmp_path / "plans" / "demo"
    assert suite.expected_indexes[0].columns == ("a", "b DESC")


BAD = [
    ({"queries": [{"name": "q", "sql": "SELECT 1", "expect": {"uses_idx": "a"}}]},
     "checks.plans.params.queries.0.expect.uses_idx", "did you mean 'uses_index'"),
    ({"queries": [{"name": "Q!", "sql": "SELECT 1"}]}, "checks.plans.params.queries.0.name", "lower-case"),
    ({"queries": [{"name": "q", "sql": "SELECT 1"}, {"name": "q", "sql": "SELECT 2"}]},
     "checks.plans.params.queries.1.name", "declared twice"),
    ({"queries": [{"name": "q", "sql": "SELECT 1", "dataset": "nope"}]},
     "checks.plans.params.queries.0.dataset", "no dataset 'nope'"),
    ({"queries": [{"name": "q", "sql": "SELECT 1", "budget": {"vm_steps": -1}}]},
     "checks.plans.params.queries.0.budget.vm_steps", "0 or more"),
    ({"queries": [{"name": "q", "sql": "SELECT 1", "budget": {"steps": 1}}]},
     "checks.plans.params.queries.0.budget.steps", "unknown key"),
    ({"queries": [{"name": "q", "sql": "SELECT 1", "expect": {"no_temp_btree": ["JOIN"]}}]},
     "checks.plans.params.queries.0.expect.no_temp_btree", "not a temp B-tree purpose"),
    ({"queries": [{"name": "q"}]}, "checks.plans.params.queries.0", "missing required key 'sql'"),
    ({"datasets": {"d": {"stats": "pinned"}}}, "checks.plans.params.datasets.d.stats", "needs stat1 rows"),
    ({"datasets": {"d": {"stats": "pinned", "stat1": [["t", "i", "many"]]}}},
     "checks.plans.params.datasets.d.stat1", "not sqlite_stat1's form"),
    ({"datasets": {"d": {"rows": {"t": -3}}}}, "checks.plans.params.datasets.d.rows.t", "row count"),
    ({"expected_indexes": [{"name": "i", "table": "t"}]}, "checks.plans.params.expected_indexes.0",
     "missing required key 'columns'"),
]


@pytest.mark.parametrize(("params", "key", "words"), BAD, ids=[b[1] + ":" + b[2] for b in BAD])
def test_spec_errors_name_file_line_and_key(tmp_path: Path, params: dict, key: str, words: str) -> None:
    lines = {"params.queries.0": 21, "params.queries.0.expect": 23, "params.datasets.d": 30}
    with pytest.raises(InputError) as caught:
        spec_mod.parse(tmp_path / "scenario.toml", family(params, lines))
    error = caught.value
    assert error.path == str(tmp_path / "scenario.toml")
    assert error.key == key
    assert words in error.problem
    assert error.line is not None  # the nearest line the file has for the key, else the family's


# --------------------------------------------------------------------------- index facts


@pytest.fixture
def conn() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.executescript("""
        CREATE TABLE parent (id INTEGER PRIMARY KEY, code TEXT UNIQUE);
        CREATE TABLE child (
            id INTEGER PRIMARY KEY,
            parent_id INTEGER REFERENCES parent (id),
            other_id INTEGER REFERENCES parent (id),
            code TEXT REFERENCES parent (code),
            created_at TEXT, flag INTEGER);
        CREATE INDEX child_parent_created ON child (parent_id, created_at DESC);
        CREATE INDEX child_parent ON child (parent_id);
        CREATE INDEX child_parent_twin ON child (parent_id);
        CREATE INDEX child_other_partial ON child (other_id) WHERE other_id IS NOT NULL;
        CREATE INDEX child_flagged ON child (created_at) WHERE flag = 1;
        CREATE UNIQUE INDEX child_code ON child (code COLLATE NOCASE);
    """)
    return conn


def test_expected_indexes(conn: sqlite3.Connection) -> None:
    facts = schema.read(conn)
    E = idx.ExpectedIndex
    assert idx.check_expected(facts, [
        E("child_parent_created", "child", ("parent_id", "created_at DESC"), unique=False),
        E("child_flagged", "child", ("created_at",), where="FLAG=1"),
        E("child_code", "child", ("code COLLATE NOCASE",), unique=True),
    ]) == []
    assert idx.check_expected(facts, [
        E("child_parent_created", "child", ("parent_id", "created_at")),  # order
        E("child_flagged", "child", ("created_at",), where="flag = 0"),  # partial WHERE
        E("child_code", "child", ("code",), unique=False),  # uniqueness (collation unchecked when unsaid)
        E("child_parent_created_v2", "child", ("parent_id", "created_at DESC")),  # missing, same shape exists
        E("child_parent", "child", ("parent_id",), where="parent_id > 0"),
    ]) == [
        "index child_parent_created: columns (parent_id, created_at DESC), expected (parent_id, created_at)",
        "index child_flagged: WHERE flag = 1, expected WHERE flag = 0",
        "index child_code: UNIQUE, expected not UNIQUE",
        "index child_parent_created_v2 on child: missing (an index with these columns exists as "
        "child_parent_created)",
        "index child_parent: not partial, expected WHERE parent_id > 0",
    ]


def test_unindexed_foreign_keys(conn: sqlite3.Connection) -> None:
    found = idx.unindexed_foreign_keys(schema.read(conn))
    # parent_id leads an index; other_id only has a partial one; code has a NOCASE unique index (any
    # index leading with the column counts)
    assert [(f.table, f.subject) for f in found] == [("child", "(other_id) -> parent")]


def test_redundant_indexes(conn: sqlite3.Connection) -> None:
    found = idx.redundant_indexes(schema.read(conn))
    assert [f.message for f in found] == [
        "index child_parent (parent_id) is a prefix of child_parent_created (parent_id, created_at DESC)",
        "index child_parent_twin (parent_id) duplicates child_parent (parent_id)",
    ]
    # UNIQUE and partial indexes enforce or select something: never redundant by themselves
    assert not any(f.subject in ("child_code", "child_other_partial", "child_flagged") for f in found)
    conn.executescript("DROP INDEX child_parent; DROP INDEX child_parent_twin;")
    assert idx.redundant_indexes(schema.read(conn)) == []
