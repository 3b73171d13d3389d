"""Hot queries' plans, costs and indexes: the ``plans`` family.

The scenario declares the queries the application really runs (``[checks.plans.params]``,
see :mod:`harness.plans.spec`), each on a dataset built at head by the engine under test
and filled at scale (:mod:`harness.plans.dataset`). Cases:

* ``plans[query=Q]::<expectation>`` -- one per expectation the query declares:
  ``uses-index`` (a whole-name match, optionally for a table), ``no-full-scan``,
  ``no-temp-btree``, ``covering``, ``no-automatic-index``;
* ``plans[query=Q]::budget`` / ``::budget-warn`` -- VM steps (progress handler) and
  full-scan steps, sorts, automatic indexes (``sqlite_stmt`` / APSW counters), measured
  against the budget (items with ``severity = "warn"`` go to ``budget-warn``);
* ``plans[query=Q]::baseline`` -- the normalised plan tree equals the golden file
  (``harness plans --update`` rewrites it); a difference is shown node by node;
* ``plans::expected-indexes`` -- the declared indexes exist with their columns, order,
  uniqueness and partial WHERE on a fresh install; ``plans::unindexed-foreign-keys`` and
  ``plans::redundant-indexes`` (warnings by default);
* ``plans[fixture=F]::expected-indexes`` and ``plans[query=Q,fixture=F]::uses-index`` --
  the same on every legacy fixture upgraded to head by the engine (with the query's
  dataset statistics laid over it), so an index lost on one upgrade path is caught there.

A failing plan check carries the plan tree and, where the ``sqlite3`` shell is installed,
its ``.expert`` advice (suggested ``CREATE INDEX`` and the plan it would give).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, List, Mapping, Tuple, Union

from harness.checks import verdict as v
from harness.checks.catalogue import CheckSpec, Family, Params
from harness.checks.context import CaseContext
from harness.fixtures.manifest import Manifest
from harness.plans import baseline, dataset
from harness.plans.spec import ALL, PlanSuite, Query, check_ids, parse
from harness.scenario import FamilySpec, Scenario
from harness.sqlite import cost as cost_mod
from harness.sqlite import indexes as idx
from harness.sqlite import schema as schema_mod
from harness.sqlite.plans import Access, PlanTree, explain, render, same_name, temp_btree, uses_index

NAME = "plans"
DEFAULT_FIXTURES = ("tag:legacy",)
EXPERT_TIMEOUT = 60.0


class _Axis(tuple):
    """A parameter combination that also knows which checks apply to it.

    ``applies`` only sees the parameters, and a query declares only some expectations: the
    combination carries the check ids its query declared, so a case exists exactly for
    each declared expectation (it behaves as the plain tuple of pairs everywhere else).
    """

    checks: frozenset[str]

    def __new__(cls, pairs: tuple[tuple[str, str], ...], checks: frozenset[str] | set[str]) -> "_Axis":
        made = super().__new__(cls, pairs)
        made.checks = frozenset(checks)
        return made


def _applies(check_id: str) -> Callable[[Params], bool]:
    return lambda params: check_id in getattr(params, "checks", ())


# --------------------------------------------------------------------------- the suite


@dataclass(frozen=True)
class PlanParams:
    """``[checks.plans.params]``; each item's own keys are read by :func:`harness.plans.spec.parse`."""

    queries: tuple[Any, ...] = ()  # [[checks.plans.params.queries]]
    datasets: Mapping[str, Any] = field(default_factory=dict)
    expected_indexes: tuple[Any, ...] = ()
    baseline_dir: str | None = None  # default plans/<suite name>, relative to the scenario
    expert: bool = True  # ask the sqlite3 shell's .expert for an index when a plan check fails


def suite_of(ctx: CaseContext) -> PlanSuite:
    spec = ctx.scenario.family(NAME)
    assert spec is not None
    return parse(ctx.scenario.path, spec, seed=ctx.scenario.seed, suite=ctx.scenario.name)


def _fixtures(spec: FamilySpec, manifest: Manifest | None) -> list[str]:
    if manifest is None:
        return []
    return [f.name for f in manifest.select(spec.fixtures or DEFAULT_FIXTURES) if not f.negative]


def _axes(scenario: Scenario, spec: FamilySpec, manifest: Manifest | None) -> list[Params]:
    suite = parse(scenario.path, spec)
    out: list[Params] = []
    top = {"unindexed-foreign-keys", "redundant-indexes"}
    if suite.expected_indexes:
        top.add("expected-indexes")
    out.append(_Axis((), top))
    for query in suite.queries:
        out.append(_Axis((("query", query.name),), check_ids(query)))
    for fixture in _fixtures(spec, manifest):
        if suite.expected_indexes:
            out.append(_Axis((("fixture", fixture),), {"expected-indexes"}))
        for query in suite.queries:
            if query.expect.uses_index:
                out.append(_Axis((("query", query.name), ("fixture", fixture)), {"uses-index"}))
    return out


# --------------------------------------------------------------------------- databases


@dataclass(frozen=True)
class Planned:
    """A query explained on a database: what the plan judges look at."""

    suite: PlanSuite
    query: Query
    db: Path  # this case's private copy
    tree: PlanTree
    schema: schema_mod.Schema
    observations: dict

    @property
    def index_tables(self) -> dict[str, str]:
        return {i.name: i.table for i in self.schema.indexes.values()}

    @property
    def partial_indexes(self) -> set[str]:
        return {i.name.lower() for i in self.schema.indexes.values() if i.partial}

    def real_table(self, name: str) -> str | None:
        for table in self.schema.tables:
            if table.lower() == name.lower():
                return table
        return None


def planned_from(suite: PlanSuite, query: Query, tree: PlanTree, facts: schema_mod.Schema, db: Path,
                 observations: dict | None = None) -> Planned:
    """A :class:`Planned` from parts (e.g. a tree explained on another SQLite build)."""
    return Planned(suite, query, db, tree, facts, dict(observations or {}))


def _scope(ctx: CaseContext) -> tuple:
    return dataset.scope_of(ctx.engine, ctx.scenario.path)


def _query_db(ctx: CaseContext, suite: PlanSuite, query: Query) -> tuple[Path, dict]:
    """The cached database this case's query runs on (dataset, or an upgraded fixture)."""
    ds = suite.dataset_of(query)
    scope = _scope(ctx)
    fixture = ctx.case.param("fixture")
    if fixture is None:
        built = dataset.build(ctx.engine, ds, scope=scope, history_format=ctx.history_format())
        return built.path, built.observations()
    if ds.stats == "pinned":
        stats = ("pinned", ds.stat1)
    elif ds.stats == "none":
        stats = ("none", ())
    else:  # the dataset's analysed statistics, laid over the upgraded schema
        built = dataset.build(ctx.engine, ds, scope=scope, history_format=ctx.history_format())
        stats = ("pinned", built.stat1)
    db = dataset.upgraded_fixture(ctx.engine, ctx.store, fixture, scope=scope, stats=stats)
    return db, {"dataset": ds.name, "fixture": fixture, "stats": f"{ds.name} ({ds.stats})"}


def _plan(ctx: CaseContext) -> Planned | v.Verdict:
    suite = suite_of(ctx)
    query = suite.query(ctx.case.param("query") or "")
    try:
        source, observations = _query_db(ctx, suite, query)
    except dataset.DatasetError as exc:
        return v.errored(f"cannot build the database for '{query.name}': {exc.summary}", details=exc.details)
    db = dataset.copy_of(source, ctx.workdir / "data")
    conn = dataset.connect(db)
    try:
        try:
            tree = explain(conn, query.sql, query.bound())
        except sqlite3.Error as exc:
            return v.failed(f"'{query.name}' does not prepare on this schema: {exc}", measured=str(exc),
                            threshold="a plan", details=query.sql, observations=observations)
        facts = schema_mod.read(conn)
    finally:
        conn.close()
    observations = {**observations, "plan": render(tree), "sqlite_version": tree.sqlite_version}
    return Planned(suite, query, db, tree, facts, observations)


# --------------------------------------------------------------------------- .expert


def expert_advice(db: Path, sql: str, workdir: Path) -> str:
    """What ``sqlite3``'s ``.expert`` suggests for ``sql`` on a copy of ``db`` ("" when unavailable)."""
    cli = shutil.which("sqlite3")
    if cli is None:
        return ""
    copy = dataset.copy_of(db, workdir / "expert")
    try:
        proc = subprocess.run([cli, "-batch", "-init", os.devnull, str(copy), ".expert", sql],
                              capture_output=True, text=True, timeout=EXPERT_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sqlite3 .expert could not run: {exc}"
    out = proc.stdout.strip()
    if proc.returncode != 0 or not out:
        return f"sqlite3 .expert gave no advice (exit {proc.returncode}): {proc.stderr.strip()[:500]}"
    body = "\n".join(f"  {line}" if line else "" for line in out.splitlines())
    return f"sqlite3 .expert suggests (on a copy of the case's database):\n{body}"


def _details(ctx: CaseContext, planned: Planned, lines: list[str]) -> str:
    parts = ["\n".join(lines)] if lines else []
    parts.append(f"query '{planned.query.name}':\n  {' '.join(planned.query.sql.split())}")
    fixture = planned.observations.get("fixture")
    parts.append(f"plan (dataset {planned.observations.get('dataset')}{', fixture ' + fixture if fixture else ''}, "
                 f"SQLite {planned.tree.sqlite_version}):\n" + render(planned.tree).rstrip())
    if planned.suite.expert:
        advice = expert_advice(planned.db, planned.query.sql, ctx.workdir)
        if advice:
            parts.append(advice)
    return "\n\n".join(parts)


# --------------------------------------------------------------------------- plan judges

#: A judge's answer: a pass summary, or (problems, summary, measured, threshold).
Judgement = Union[str, Tuple[List[str], str, str, str]]


def _access_tables(p: Planned) -> list[tuple[str, Access]]:
    """(real table, access) for every access of a stored table in the plan."""
    out = []
    for access in p.tree.accesses():
        if access.subquery:
            continue
        table = p.real_table(p.tree.table_of(access, p.index_tables))
        if table is not None:
            out.append((table, access))
    return out


def _wanted(tables: tuple[str, ...] | None, table: str) -> bool:
    return tables == ALL or any(same_name(t, table) for t in tables or ())


def _detail_of(a: Access) -> str:
    using = ""
    if a.index:
        using = f" USING {'COVERING ' if a.covering else ''}INDEX {a.index}"
    elif a.automatic:
        using = f" USING AUTOMATIC {'COVERING ' if a.covering else ''}INDEX"
    elif a.primary_key:
        using = " USING PRIMARY KEY"
    return f"{a.op} {a.name}{using}{' ' + a.constraint if a.constraint else ''}"


def _on(p: Planned) -> str:
    fixture = p.observations.get("fixture")
    return f" on fixture {fixture} upgraded to head" if fixture else ""


def judge_uses_index(p: Planned) -> Judgement:
    used = sorted({a.index for a in p.tree.accesses() if a.index})
    missing = [u for u in p.query.expect.uses_index if not uses_index(p.tree, u.index, u.table, p.index_tables)]
    if not missing:
        return f"'{p.query.name}'{_on(p)} uses {', '.join(u.describe() for u in p.query.expect.uses_index)}"
    lines = []
    for u in missing:
        exists = any(same_name(i.name, u.index) for i in p.schema.indexes.values())
        lines.append(f"does not use index {u.describe()}"
                     + ("" if exists else f" -- no index named {u.index} exists on this database"))
    return (lines, f"'{p.query.name}'{_on(p)} {lines[0]}; the plan uses {', '.join(used) or 'no index'}",
            f"indexes used: {', '.join(used) or 'none'}", ", ".join(u.describe() for u in missing))


def judge_no_full_scan(p: Planned) -> Judgement:
    wanted = p.query.expect.no_full_scan
    scans = []
    for table, access in _access_tables(p):
        if not access.full_scan or not _wanted(wanted, table):
            continue
        if access.index and access.index.lower() in p.partial_indexes:
            continue  # a partial index holds only the rows the query wants
        scans.append(f"full scan of {table}: {_detail_of(access)}")
    scope = "any table" if wanted == ALL else ", ".join(wanted or ())
    if not scans:
        return f"'{p.query.name}'{_on(p)} scans none of: {scope}"
    return (scans, f"'{p.query.name}'{_on(p)} does a {scans[0]}", f"{len(scans)} full scans",
            f"no full scan of {scope}")


def judge_no_temp_btree(p: Planned) -> Judgement:
    purposes = p.query.expect.no_temp_btree or ()
    found = [d for d in p.tree.details() if temp_btree(d) in purposes]
    if not found:
        return f"'{p.query.name}'{_on(p)} needs no temp B-tree for {', '.join(purposes)}"
    return (found, f"'{p.query.name}'{_on(p)} sorts in a temp B-tree: {found[0]}", f"{len(found)} temp B-trees",
            f"none for {', '.join(purposes)}")


def judge_covering(p: Planned) -> Judgement:
    wanted = p.query.expect.covering
    bad = [f"{table}: {_detail_of(a)}" for table, a in _access_tables(p)
           if _wanted(wanted, table) and not (a.covering or a.primary_key)]
    scope = "every table" if wanted == ALL else ", ".join(wanted or ())
    if not bad:
        return f"'{p.query.name}'{_on(p)} reads {scope} from covering indexes (no table lookups)"
    return (bad, f"'{p.query.name}'{_on(p)} is not covered: {bad[0]}", f"{len(bad)} uncovered accesses",
            f"covering index for {scope}")


def judge_no_automatic_index(p: Planned) -> Judgement:
    found = [f"{p.tree.table_of(a)}: {_detail_of(a)}" for a in p.tree.accesses() if a.automatic]
    if not found:
        return f"'{p.query.name}'{_on(p)} builds no automatic index"
    return (found, f"'{p.query.name}'{_on(p)} builds an automatic index on {found[0]}",
            f"{len(found)} automatic indexes", "0")


#: Plan expectation -> its judge (pure: a planned query in, a judgement out).
JUDGES: dict[str, Callable[[Planned], Judgement]] = {
    "uses-index": judge_uses_index,
    "no-full-scan": judge_no_full_scan,
    "no-temp-btree": judge_no_temp_btree,
    "covering": judge_covering,
    "no-automatic-index": judge_no_automatic_index,
}


def judge(check_id: str, planned: Planned) -> tuple[bool, str]:
    """(holds, summary) of one plan expectation on an already explained query."""
    outcome = JUDGES[check_id](planned)
    return (True, outcome) if isinstance(outcome, str) else (False, outcome[1])


def _plan_check(check_id: str) -> Callable[[CaseContext], v.Verdict]:
    def run(ctx: CaseContext) -> v.Verdict:
        planned = _plan(ctx)
        if isinstance(planned, v.Verdict):
            return planned
        outcome = JUDGES[check_id](planned)
        if isinstance(outcome, str):
            return v.passed(outcome, observations=planned.observations)
        problems, summary, measured, threshold = outcome
        return v.failed(summary, measured=measured, threshold=threshold, details=_details(ctx, planned, problems),
                        observations=planned.observations)

    run.__name__ = f"{check_id.replace('-', '_')}_check"
    return run


# --------------------------------------------------------------------------- budgets


def _budget(ctx: CaseContext, warn: bool) -> v.Verdict:
    suite = suite_of(ctx)
    query = suite.query(ctx.case.param("query") or "")
    items = [b for b in query.budget if (b.severity == "warn") == warn]
    try:
        source, observations = _query_db(ctx, suite, query)
    except dataset.DatasetError as exc:
        return v.errored(f"cannot build the database for '{query.name}': {exc.summary}", details=exc.details)
    db = dataset.copy_of(source, ctx.workdir / "data")
    conn = dataset.connect(db, readonly=False)
    try:
        measured = cost_mod.measure(conn, query.sql, query.bound())
    except sqlite3.Error as exc:
        return v.failed(f"'{query.name}' fails when run: {exc}", measured=str(exc), threshold="runs")
    finally:
        conn.close()
    observations = {**observations, "cost": measured.as_dict()}
    exceeded, unmeasured, within = [], [], []
    for item in items:
        value = measured.value(item.metric)
        if value is None:
            unmeasured.append(item.metric)
        elif value > item.limit:
            exceeded.append(f"{item.metric} {value} > budget {item.limit}")
        else:
            within.append(f"{item.metric} {value} <= {item.limit}")
    note = f"; not measurable here: {', '.join(unmeasured)} ({measured.counters})" if unmeasured else ""
    threshold = ", ".join(f"{b.metric} <= {b.limit}" for b in items)
    shown = ", ".join(f"{b.metric} {measured.value(b.metric)}" for b in items
                      if measured.value(b.metric) is not None)
    if exceeded:
        details = "\n".join([f"'{query.name}' on dataset '{query.dataset}' (SQLite {measured.sqlite_version}):",
                             *(f"  {line}" for line in exceeded + within),
                             f"  rows returned: {measured.rows}; counters: {measured.counters}",
                             "", " ".join(query.sql.split())])
        return v.failed(f"'{query.name}' over budget: {', '.join(exceeded)}{note}", measured=shown,
                        threshold=threshold, details=details, observations=observations)
    if not within:
        return v.skipped(f"'{query.name}': no budget item is measurable here: {', '.join(unmeasured)} "
                         f"({measured.counters})", observations=observations)
    return v.passed(f"'{query.name}' within budget: {', '.join(within)}{note}", measured=shown, threshold=threshold,
                    observations=observations)


def budget_check(ctx: CaseContext) -> v.Verdict:
    return _budget(ctx, warn=False)


def budget_warn_check(ctx: CaseContext) -> v.Verdict:
    return _budget(ctx, warn=True)


# --------------------------------------------------------------------------- baseline


def _shown(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def baseline_check(ctx: CaseContext) -> v.Verdict:
    planned = _plan(ctx)
    if isinstance(planned, v.Verdict):
        return planned
    path = baseline.path_for(planned.suite, planned.query)
    actual = render(planned.tree)
    update = f"harness plans {_shown(ctx.scenario.path)} --update"
    expected = baseline.read(path)
    if expected is None:
        return v.failed(f"no plan baseline for '{planned.query.name}' at {_shown(path)}: write it with `{update}`",
                        measured="no file", threshold=_shown(path), details=f"actual plan:\n{actual}",
                        observations=planned.observations)
    lines = baseline.diff(expected, planned.tree)
    if not lines:
        return v.passed(f"'{planned.query.name}' plan equals its baseline {_shown(path)}",
                        observations=planned.observations)
    changed = [line for line in lines if line.startswith(("-", "+"))]
    details = "\n".join([f"plan tree diff ('-' baseline {_shown(path)}, '+' actual):", *lines, "",
                         f"if the new plan is intended, rewrite the baseline: {update}"])
    was = next((line[1:].strip() for line in changed if line.startswith("-")), "(nothing)")
    now = next((line[1:].strip() for line in changed if line.startswith("+")), "(nothing)")
    return v.failed(f"'{planned.query.name}' plan differs from its baseline: {was} -> {now}",
                    measured=f"{len(changed)} nodes differ", threshold="the baseline tree", details=details,
                    observations=planned.observations)


# --------------------------------------------------------------------------- index checks


def _schema(ctx: CaseContext) -> schema_mod.Schema | v.Verdict:
    scope = _scope(ctx)
    fixture = ctx.case.param("fixture")
    try:
        if fixture is None:
            db = dataset.fresh_install(ctx.engine, scope=scope)
        else:
            db = dataset.upgraded_fixture(ctx.engine, ctx.store, fixture, scope=scope)
    except dataset.DatasetError as exc:
        return v.errored(exc.summary, details=exc.details)
    return schema_mod.read_file(db)


def expected_indexes_check(ctx: CaseContext) -> v.Verdict:
    suite = suite_of(ctx)
    found = _schema(ctx)
    if isinstance(found, v.Verdict):
        return found
    problems = idx.check_expected(found, suite.expected_indexes)
    fixture = ctx.case.param("fixture")
    where = f"fixture {fixture} upgraded to head" if fixture else "a fresh install"
    if problems:
        present = "\n".join(f"  {idx.describe_index(i)}" for i in found.indexes.values())
        return v.failed(f"on {where}: {problems[0]}",
                        measured=f"{len(problems)} problem{'s' if len(problems) != 1 else ''}",
                        threshold=f"{len(suite.expected_indexes)} indexes as declared",
                        details="\n".join(problems) + f"\n\nindexes on {where}:\n{present}")
    return v.passed(f"on {where}: all {len(suite.expected_indexes)} expected indexes present as declared")


def unindexed_foreign_keys_check(ctx: CaseContext) -> v.Verdict:
    found = _schema(ctx)
    if isinstance(found, v.Verdict):
        return found
    findings = idx.unindexed_foreign_keys(found)
    fks = sum(len(t.foreign_keys) for t in found.tables.values())
    if findings:
        return v.failed(findings[0].message, measured=f"{len(findings)} of {fks} foreign keys", threshold="0",
                        details="\n".join(f.message for f in findings),
                        observations={"unindexed": [f"{f.table} {f.subject}" for f in findings]})
    return v.passed(f"all {fks} foreign keys lead an index")


def redundant_indexes_check(ctx: CaseContext) -> v.Verdict:
    found = _schema(ctx)
    if isinstance(found, v.Verdict):
        return found
    findings = idx.redundant_indexes(found)
    if findings:
        return v.failed(findings[0].message, measured=f"{len(findings)} redundant", threshold="0",
                        details="\n".join(f.message for f in findings),
                        observations={"redundant": [f.subject for f in findings]})
    return v.passed(f"no redundant index among {len(found.indexes)}")


# --------------------------------------------------------------------------- the family


def _check(check_id: str, description: str, runbook: str, run: Callable[[CaseContext], v.Verdict],
           severity: str | None = None) -> CheckSpec:
    return CheckSpec(check_id, description, runbook, run, needs=frozenset({"migrate"}),
                     applies=_applies(check_id), severity=severity)


CHECKS = (
    _check("expected-indexes", "the declared indexes exist with their columns, order, uniqueness and partial WHERE "
           "(fresh install and every upgraded legacy fixture)", "index-missing", expected_indexes_check),
    _check("unindexed-foreign-keys", "every foreign key's columns lead some index (else parent changes scan the "
           "child table)", "unindexed-foreign-key", unindexed_foreign_keys_check, severity="warn"),
    _check("redundant-indexes", "no index is a leading prefix or a duplicate of another", "redundant-index",
           redundant_indexes_check, severity="warn"),
    _check("uses-index", "the query's plan uses the named index (whole name, optionally for a table), at scale and "
           "on every upgraded fixture", "plan-regression", _plan_check("uses-index")),
    _check("no-full-scan", "the plan scans none of the listed tables in full", "plan-regression",
           _plan_check("no-full-scan")),
    _check("no-temp-btree", "no temp B-tree for ORDER BY / GROUP BY / DISTINCT", "plan-regression",
           _plan_check("no-temp-btree")),
    _check("covering", "the listed tables are read from covering indexes only", "plan-regression",
           _plan_check("covering")),
    _check("no-automatic-index", "the plan builds no automatic index", "plan-regression",
           _plan_check("no-automatic-index")),
    _check("budget", "VM steps, full-scan steps, sorts and automatic indexes within the query's budget",
           "query-budget", budget_check),
    _check("budget-warn", "the budget items marked severity = \"warn\"", "query-budget", budget_warn_check,
           severity="warn"),
    _check("baseline", "the normalised plan tree equals the golden file (harness plans --update)",
           "plan-baseline-drift", baseline_check),
)

FAMILY = Family(
    name=NAME,
    description="The application's hot queries on a database at head filled at scale: plans use the expected "
                "indexes (also on every upgraded fixture), avoid full scans, temp B-trees and automatic indexes, "
                "stay within counted budgets and match their baselines; indexes present, no unindexed FK.",
    checks=CHECKS,
    axes=_axes,
    params=PlanParams,
)
