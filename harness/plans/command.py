"""``harness plans [PATHS] [--update]``: print the hot queries' plan trees, or rewrite their baselines."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Callable, Sequence

from harness import scenario as scenario_mod
from harness.engines.loader import load_engine
from harness.errors import InputError
from harness.plans import baseline, dataset
from harness.plans.spec import parse
from harness.sqlite.plans import explain, render

FAMILY = "plans"


def _shown(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def run(files: Sequence[Path], *, update: bool = False, queries: Sequence[str] = (), profile: str | None = None,
        out: Callable[[str], None] = print) -> int:
    """Exit status: 0 done; 1 a dataset could not be built or a query does not prepare."""
    status = 0
    seen_queries: set[str] = set()
    planned = 0
    for path in files:
        scenario = scenario_mod.load(path, profile)
        spec = scenario.family(FAMILY)
        if spec is None or not spec.enabled:
            continue
        suite = parse(scenario.path, spec, seed=scenario.seed, suite=scenario.name)
        engine = load_engine(scenario.engine, scenario.path)
        scope = dataset.scope_of(engine, scenario.path)
        history_format = scenario.engine.history or getattr(engine, "history_format", None)
        for query in suite.queries:
            if queries and query.name not in queries:
                continue
            seen_queries.add(query.name)
            ds = suite.dataset_of(query)
            try:
                built = dataset.build(engine, ds, scope=scope, history_format=history_format)
            except dataset.DatasetError as exc:
                out(f"{scenario.name}: {query.name}: cannot build dataset '{ds.name}': {exc.summary}")
                status = 1
                continue
            conn = dataset.connect(built.path)
            try:
                tree = explain(conn, query.sql, query.bound())
            except sqlite3.Error as exc:
                out(f"{scenario.name}: {query.name}: does not prepare: {exc}")
                status = 1
                continue
            finally:
                conn.close()
            planned += 1
            rows = sum(built.rows.values())
            out(f"{scenario.name}: {query.name} (dataset '{ds.name}': {rows} rows, stats {ds.stats}, "
                f"built in {built.seconds:.1f}s; SQLite {tree.sqlite_version})")
            out(render(tree).rstrip())
            target = baseline.path_for(suite, query)
            if update:
                if not query.baseline:
                    out("  (baseline = false: no file written)")
                elif baseline.write(target, baseline.text_for(query, tree)):
                    out(f"  wrote {_shown(target)}")
                else:
                    out(f"  unchanged {_shown(target)}")
            elif query.baseline:
                expected = baseline.read(target)
                if expected is None:
                    out(f"  no baseline at {_shown(target)} (write it with --update)")
                else:
                    lines = baseline.diff(expected, tree)
                    if lines:
                        out(f"  differs from {_shown(target)} ('-' baseline, '+' now):")
                        out("\n".join(f"  {line}" for line in lines))
            out("")
    missing = [q for q in queries if q not in seen_queries]
    if missing:
        raise InputError("--query", f"no query named {', '.join(missing)} in the [checks.plans] of "
                         f"{', '.join(map(str, files))}")
    if not planned and status == 0:
        out("no [checks.plans] queries in " + ", ".join(map(str, files)))
    return status
