"""The ``[checks.plans]`` params of a scenario, validated into frozen dataclasses.

Shape (every key optional except the queries' ``name`` and ``sql``)::

    [checks.plans.params]
    baseline_dir = "plans/reference"     # golden files, relative to the scenario (default plans/<suite>)
    expert = true                        # .expert advice on a failing plan check (when sqlite3 is installed)
    expected_indexes = [
      { name = "idx_runs_project_created", table = "runs", columns = ["project_id", "created_at"] },
      { name = "idx_talk_projects_training", table = "talk_projects", columns = ["created_at"],
        where = "is_training = 1", unique = false },
    ]

    [checks.plans.params.datasets.at-scale]
    seed = 7                             # default: the suite's seed
    rows = { runs = 6000, talk_projects = 400 }   # or one integer for every table
    scale = 1.0                          # multiplies rows
    stats = "pinned"                     # "analyze" (default) | "pinned" | "none"
    stat1 = [ { table = "runs", index = "idx_runs_project_created", stat = "50000 25 1" } ]

    [[checks.plans.params.queries]]
    name = "runs-by-project"
    sql = "SELECT … WHERE project_id = ? ORDER BY created_at DESC LIMIT 50"
    params = ["p-1"]                     # or a table for :named parameters
    dataset = "at-scale"                 # default: "default" if declared, else the first declared
    baseline = true                      # compare with the golden file (default true)
    expect = { uses_index = "idx_runs_project_created", no_full_scan = ["runs"], no_temp_btree = true,
               covering = false, no_automatic_index = true }
    budget = { vm_steps = 5000, full_scan_steps = 0, sorts = { limit = 0, severity = "warn" } }

``uses_index`` takes a name, ``{ table = "runs", index = "…" }``, or an array of either;
``no_full_scan`` and ``covering`` take ``true`` (every table the query reads) or table
names; ``no_temp_btree`` takes ``true`` or some of ``"ORDER BY"``, ``"GROUP BY"``,
``"DISTINCT"``. Errors are :class:`~harness.errors.InputError` naming the scenario file,
the line and the full key (``checks.plans.params.queries.2.expect.uses_index``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from harness.errors import InputError
from harness.scenario import SEVERITIES, FamilySpec
from harness.sqlite.cost import METRICS
from harness.sqlite.indexes import ExpectedIndex

__all__ = ["IndexUse", "Expect", "BudgetItem", "Query", "StatRow", "Dataset", "PlanSuite", "parse",
           "PARAMS", "ALL", "TEMP_BTREE_PURPOSES", "DEFAULT_DATASET", "check_ids"]

FAMILY = "plans"
ALL = ("*",)  # "every table the query reads"
TEMP_BTREE_PURPOSES = ("ORDER BY", "GROUP BY", "DISTINCT")
STATS = ("analyze", "pinned", "none")
DEFAULT_DATASET = "default"
DEFAULT_ROWS = 200
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_STAT = re.compile(r"^\d+(?: \d+)*(?: [A-Za-z_]+(?:=\d+)?)*$")

#: The family's allowed ``params`` keys and their TOML types (checked by the runner too).
PARAMS: dict[str, type | tuple[type, ...]] = {
    "queries": list, "datasets": dict, "expected_indexes": list, "baseline_dir": str, "expert": bool,
}
_QUERY_KEYS = ("name", "sql", "params", "dataset", "expect", "budget", "baseline", "description")
_EXPECT_KEYS = ("uses_index", "no_full_scan", "no_temp_btree", "covering", "no_automatic_index")
_DATASET_KEYS = ("seed", "rows", "scale", "stats", "stat1", "description")
_INDEX_KEYS = ("name", "table", "columns", "unique", "where", "partial")


@dataclass(frozen=True)
class IndexUse:
    index: str
    table: str | None = None

    def describe(self) -> str:
        return f"{self.index} (on {self.table})" if self.table else self.index


@dataclass(frozen=True)
class Expect:
    uses_index: tuple[IndexUse, ...] = ()
    no_full_scan: tuple[str, ...] | None = None  # ALL or table names
    no_temp_btree: tuple[str, ...] | None = None  # purposes
    covering: tuple[str, ...] | None = None  # ALL or table names
    no_automatic_index: bool = False


@dataclass(frozen=True)
class BudgetItem:
    metric: str  # one of cost.METRICS
    limit: int
    severity: str | None = None  # None: the case's severity (the `budget` check)


@dataclass(frozen=True)
class Query:
    name: str
    sql: str
    params: tuple[Any, ...] | tuple[tuple[str, Any], ...] = ()
    named: bool = False  # params are (name, value) pairs for :name placeholders
    dataset: str = DEFAULT_DATASET
    expect: Expect = Expect()
    budget: tuple[BudgetItem, ...] = ()
    baseline: bool = True
    description: str = ""
    line: int | None = None

    def bound(self) -> tuple[Any, ...] | dict[str, Any]:
        return dict(self.params) if self.named else tuple(self.params)


@dataclass(frozen=True)
class StatRow:
    table: str
    index: str | None
    stat: str


@dataclass(frozen=True)
class Dataset:
    name: str
    seed: int
    rows: int | tuple[tuple[str, int], ...] = DEFAULT_ROWS
    scale: float = 1.0
    stats: str = "analyze"
    stat1: tuple[StatRow, ...] = ()

    def row_counts(self) -> int | dict[str, int]:
        """What ``populate(rows_per_table=…)`` gets: the rows times the scale factor."""
        if isinstance(self.rows, int):
            return max(0, round(self.rows * self.scale))
        return {t: max(0, round(n * self.scale)) for t, n in self.rows}


@dataclass(frozen=True)
class PlanSuite:
    path: Path  # the scenario file
    queries: tuple[Query, ...]
    datasets: Mapping[str, Dataset]
    expected_indexes: tuple[ExpectedIndex, ...]
    baseline_dir: Path
    expert: bool = True
    suite: str = ""

    def query(self, name: str) -> Query:
        for q in self.queries:
            if q.name == name:
                return q
        raise KeyError(name)

    def dataset_of(self, query: Query) -> Dataset:
        return self.datasets[query.dataset]


def check_ids(query: Query) -> frozenset[str]:
    """The per-query checks that apply to ``query``: one per declared expectation, budget, baseline."""
    ids = set()
    e = query.expect
    if e.uses_index:
        ids.add("uses-index")
    if e.no_full_scan is not None:
        ids.add("no-full-scan")
    if e.no_temp_btree is not None:
        ids.add("no-temp-btree")
    if e.covering is not None:
        ids.add("covering")
    if e.no_automatic_index:
        ids.add("no-automatic-index")
    if any(b.severity != "warn" for b in query.budget):
        ids.add("budget")
    if any(b.severity == "warn" for b in query.budget):
        ids.add("budget-warn")
    if query.baseline:
        ids.add("baseline")
    return frozenset(ids)


# --------------------------------------------------------------------------- parsing


class _Where:
    """Names keys and finds their lines for errors."""

    def __init__(self, path: Path | str, spec: FamilySpec) -> None:
        self.path = path
        self.spec = spec

    def line(self, key: str) -> int | None:
        probe = key
        while probe:
            if probe in self.spec.key_lines:
                return self.spec.key_lines[probe]
            probe = probe.rpartition(".")[0]
        return self.spec.line

    def error(self, key: str, problem: str) -> InputError:
        return InputError(self.path, problem, line=self.line(key), key=f"checks.{self.spec.family}.{key}")


def _describe(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
            dict: "a table"}.get(type(value), type(value).__name__) + f" {value!r:.60}"


def _get(w: _Where, key: str, table: Mapping[str, Any], name: str, kinds: tuple[type, ...], default: Any = None,
         *, required: bool = False) -> Any:
    full = f"{key}.{name}"
    if name not in table:
        if required:
            raise w.error(key, f"missing required key '{name}'")
        return default
    value = table[name]
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        names = " or ".join({bool: "a boolean", int: "an integer", float: "a number", str: "a string",
                             list: "an array", dict: "a table"}[k] for k in kinds)
        raise w.error(full, f"expected {names}, got {_describe(value)}")
    return value


def _keys(w: _Where, key: str, table: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    import difflib

    for name in table:
        if name not in allowed:
            hint = difflib.get_close_matches(name, allowed, n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise w.error(f"{key}.{name}", f"unknown key{suggestion}; expected one of: {', '.join(allowed)}")


def _names(w: _Where, key: str, value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise w.error(key, f"expected true or a non-empty array of {what}, got {_describe(value)}")
    return tuple(value)


def _tables_or_all(w: _Where, key: str, value: Any) -> tuple[str, ...] | None:
    if value is True:
        return ALL
    if value is False:
        return None
    return _names(w, key, value, "table names")


def _index_use(w: _Where, key: str, value: Any) -> IndexUse:
    if isinstance(value, str) and value:
        return IndexUse(value)
    if isinstance(value, dict):
        _keys(w, key, value, ("index", "table"))
        index = _get(w, key, value, "index", (str,), required=True)
        table = _get(w, key, value, "table", (str,))
        if not index:
            raise w.error(f"{key}.index", "expected an index name")
        return IndexUse(index, table or None)
    raise w.error(key, f"expected an index name or {{ table = \"…\", index = \"…\" }}, got {_describe(value)}")


def _expect(w: _Where, key: str, raw: Mapping[str, Any]) -> Expect:
    _keys(w, key, raw, _EXPECT_KEYS)
    uses: tuple[IndexUse, ...] = ()
    if "uses_index" in raw:
        value = raw["uses_index"]
        items = value if isinstance(value, list) else [value]
        if not items:
            raise w.error(f"{key}.uses_index", "expected at least one index")
        uses = tuple(_index_use(w, f"{key}.uses_index", v) for v in items)
    temp: tuple[str, ...] | None = None
    if "no_temp_btree" in raw:
        value = raw["no_temp_btree"]
        if value is True:
            temp = TEMP_BTREE_PURPOSES
        elif value is not False:
            temp = tuple(v.upper() for v in _names(w, f"{key}.no_temp_btree", value, "purposes"))
            for purpose in temp:
                if purpose not in TEMP_BTREE_PURPOSES:
                    raise w.error(f"{key}.no_temp_btree", f"'{purpose}' is not a temp B-tree purpose; expected "
                                  f"true or some of: {', '.join(TEMP_BTREE_PURPOSES)}")
    return Expect(
        uses_index=uses,
        no_full_scan=_tables_or_all(w, f"{key}.no_full_scan", raw["no_full_scan"]) if "no_full_scan" in raw else None,
        no_temp_btree=temp,
        covering=_tables_or_all(w, f"{key}.covering", raw["covering"]) if "covering" in raw else None,
        no_automatic_index=_get(w, key, raw, "no_automatic_index", (bool,), False),
    )


def _budget(w: _Where, key: str, raw: Mapping[str, Any], default_severity: str | None) -> tuple[BudgetItem, ...]:
    _keys(w, key, raw, METRICS)
    items = []
    for metric in METRICS:
        if metric not in raw:
            continue
        value = raw[metric]
        where = f"{key}.{metric}"
        severity = default_severity
        if isinstance(value, dict):
            _keys(w, where, value, ("limit", "severity"))
            limit = _get(w, where, value, "limit", (int,), required=True)
            severity = _get(w, where, value, "severity", (str,), default_severity)
            if severity is not None and severity not in SEVERITIES:
                raise w.error(f"{where}.severity", f"'{severity}' is not allowed; expected one of: "
                              f"{', '.join(SEVERITIES)}")
        elif isinstance(value, int) and not isinstance(value, bool):
            limit = value
        else:
            raise w.error(where, f"expected a count or {{ limit = N, severity = \"warn\" }}, got {_describe(value)}")
        if limit < 0:
            raise w.error(where, f"expected a count of 0 or more, got {limit}")
        items.append(BudgetItem(metric, int(limit), None if severity == "error" else severity))
    return tuple(items)


def _params(w: _Where, key: str, value: Any) -> tuple[tuple[Any, ...], bool]:
    if isinstance(value, list):
        for k, v in enumerate(value):
            if isinstance(v, (list, dict)):
                raise w.error(key, f"parameter {k + 1}: expected a string, number or boolean, got {_describe(v)}")
        return tuple(value), False
    if isinstance(value, dict):
        for name, v in value.items():
            if isinstance(v, (list, dict)):
                raise w.error(f"{key}.{name}", f"expected a string, number or boolean, got {_describe(v)}")
        return tuple(sorted(value.items())), True
    raise w.error(key, f"expected an array (for ?) or a table (for :name), got {_describe(value)}")


def _dataset(w: _Where, key: str, name: str, raw: Any, seed: int) -> Dataset:
    if not isinstance(raw, dict):
        raise w.error(key, f"expected a table, got {_describe(raw)}")
    if not _NAME.match(name):
        raise w.error(key, f"dataset name '{name}' must be lower-case letters, digits, '-' or '_'")
    _keys(w, key, raw, _DATASET_KEYS)
    rows_raw = raw.get("rows", DEFAULT_ROWS)
    rows: int | tuple[tuple[str, int], ...]
    if isinstance(rows_raw, int) and not isinstance(rows_raw, bool) and rows_raw >= 0:
        rows = rows_raw
    elif isinstance(rows_raw, dict):
        for table, n in rows_raw.items():
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise w.error(f"{key}.rows.{table}", f"expected a row count of 0 or more, got {_describe(n)}")
        rows = tuple(sorted(rows_raw.items()))
    else:
        raise w.error(f"{key}.rows", f"expected a row count for every table or a table of counts, got "
                      f"{_describe(rows_raw)}")
    scale = _get(w, key, raw, "scale", (int, float), 1.0)
    if not math.isfinite(scale) or scale <= 0:
        raise w.error(f"{key}.scale", f"expected a positive factor, got {scale}")
    stats = _get(w, key, raw, "stats", (str,), "analyze")
    if stats not in STATS:
        raise w.error(f"{key}.stats", f"'{stats}' is not allowed; expected one of: {', '.join(STATS)}")
    stat1 = []
    for k, row in enumerate(_get(w, key, raw, "stat1", (list,), [])):
        where = f"{key}.stat1"
        if isinstance(row, dict):
            _keys(w, where, row, ("table", "index", "stat"))
            table, index, stat = row.get("table"), row.get("index"), row.get("stat")
        elif isinstance(row, list) and len(row) in (2, 3):
            table, index, stat = (row[0], None, row[1]) if len(row) == 2 else row
        else:
            raise w.error(where, f"row {k + 1}: expected {{ table = \"t\", index = \"i\", stat = \"N n…\" }}, got "
                          f"{_describe(row)}")
        if not isinstance(table, str) or not table or (index is not None and not isinstance(index, str)):
            raise w.error(where, f"row {k + 1}: expected a table name and an index name (or none for the table)")
        if not isinstance(stat, str) or not _STAT.match(stat.strip()):
            raise w.error(where, f"row {k + 1}: stat {stat!r} is not sqlite_stat1's form (\"rows avg avg …\", "
                          "e.g. \"50000 25 1\")")
        stat1.append(StatRow(table, index or None, stat.strip()))
    if stats == "pinned" and not stat1:
        raise w.error(f"{key}.stats", "stats = \"pinned\" needs stat1 rows (sqlite_stat1: table, index, stat)")
    if stats != "pinned" and stat1:
        raise w.error(f"{key}.stat1", f"stat1 rows are only used with stats = \"pinned\" (this dataset says "
                      f"\"{stats}\")")
    return Dataset(name, _get(w, key, raw, "seed", (int,), seed), rows, float(scale), stats, tuple(stat1))


def _expected_index(w: _Where, key: str, raw: Any) -> ExpectedIndex:
    if not isinstance(raw, dict):
        raise w.error(key, f"expected {{ name = \"…\", table = \"…\", columns = [\"…\"] }}, got {_describe(raw)}")
    _keys(w, key, raw, _INDEX_KEYS)
    name = _get(w, key, raw, "name", (str,), required=True)
    table = _get(w, key, raw, "table", (str,), required=True)
    columns = _get(w, key, raw, "columns", (list,), required=True)
    if not columns or not all(isinstance(c, str) and c.strip() for c in columns):
        raise w.error(f"{key}.columns", "expected a non-empty array of column names (\"created_at DESC\" for "
                      "descending order)")
    return ExpectedIndex(name, table, tuple(columns), _get(w, key, raw, "unique", (bool,)),
                         _get(w, key, raw, "where", (str,)), _get(w, key, raw, "partial", (bool,)))


def parse(path: Path | str, spec: FamilySpec, *, seed: int = 0, suite: str = "") -> PlanSuite:
    """The plan suite of a scenario's ``[checks.plans]`` (``spec``); ``path`` is the scenario file."""
    w = _Where(path, spec)
    params = spec.params
    datasets: dict[str, Dataset] = {}
    raw_sets = _get(w, "params", params, "datasets", (dict,), {})
    for name, raw in raw_sets.items():
        datasets[name] = _dataset(w, f"params.datasets.{name}", name, raw, seed)
    queries: list[Query] = []
    seen: dict[str, int] = {}
    raw_queries = _get(w, "params", params, "queries", (list,), [])
    for k, raw in enumerate(raw_queries):
        key = f"params.queries.{k}"
        if not isinstance(raw, dict):
            raise w.error(key, f"expected a table ([[checks.plans.params.queries]]), got {_describe(raw)}")
        _keys(w, key, raw, _QUERY_KEYS)
        name = _get(w, key, raw, "name", (str,), required=True)
        if not _NAME.match(name):
            raise w.error(f"{key}.name", f"'{name}' must be lower-case letters, digits, '-' or '_' (it names "
                          "cases and baseline files)")
        if name in seen:
            raise w.error(f"{key}.name", f"query '{name}' is declared twice (also queries.{seen[name]})")
        seen[name] = k
        sql = _get(w, key, raw, "sql", (str,), required=True).strip()
        if not sql:
            raise w.error(f"{key}.sql", "expected the query's SQL")
        values, named = _params(w, f"{key}.params", raw.get("params", []))
        if "dataset" in raw:
            dataset = _get(w, key, raw, "dataset", (str,))
            if dataset not in datasets:
                choices = ", ".join(datasets) or "none declared"
                raise w.error(f"{key}.dataset", f"no dataset '{dataset}' in checks.plans.params.datasets "
                              f"({choices})")
        elif DEFAULT_DATASET in datasets or not datasets:
            dataset = DEFAULT_DATASET
        else:
            dataset = next(iter(datasets))  # the first one declared
        expect = _expect(w, f"{key}.expect", _get(w, key, raw, "expect", (dict,), {}))
        budget = _budget(w, f"{key}.budget", _get(w, key, raw, "budget", (dict,), {}), None)
        queries.append(Query(name, sql, values, named, dataset, expect, budget,
                             _get(w, key, raw, "baseline", (bool,), True), _get(w, key, raw, "description", (str,), ""),
                             w.line(key)))
    if DEFAULT_DATASET not in datasets and any(q.dataset == DEFAULT_DATASET for q in queries):
        datasets[DEFAULT_DATASET] = Dataset(DEFAULT_DATASET, seed)
    expected = tuple(_expected_index(w, f"params.expected_indexes.{k}", raw)
                     for k, raw in enumerate(_get(w, "params", params, "expected_indexes", (list,), [])))
    base = Path(path).parent
    raw_dir = _get(w, "params", params, "baseline_dir", (str,), f"plans/{suite or 'suite'}")
    directory = Path(raw_dir)
    return PlanSuite(
        path=Path(path),
        queries=tuple(queries),
        datasets=datasets,
        expected_indexes=expected,
        baseline_dir=directory if directory.is_absolute() else (base / directory),
        expert=_get(w, "params", params, "expert", (bool,), True),
        suite=suite,
    )

