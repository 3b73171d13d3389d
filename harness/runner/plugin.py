"""The pytest plugin: scenario files are collected as test files, cases as test items.

So ``pytest scenarios/``, ``-k``, ``--lf`` and ``-n auto`` work as they do for any tests.
Each item's judgement travels to the controlling process in ``user_properties`` (the one
channel pytest-xdist carries intact), where the run's results file and JUnit are written.
"""

from __future__ import annotations

import json
import platform
import re
import shlex
import shutil
import sqlite3
import tempfile
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

import harness
from harness import scenario as scenario_mod
from harness.cases import Case, split_listed_id
from harness.engines.loader import load_engine
from harness.engines.protocol import Engine
from harness.errors import HarnessError
from harness.fixtures.store import FixtureStore
from harness.reporting import junit
from harness.reporting.console import failure_text
from harness.reporting.links import run_base
from harness.reporting.results import BLOCKED, ERRORED, SKIPPED, CaseResult, RunResult, natural_order
from harness.runner.discovery import is_scenario_file
from harness.runner.execute import result_of, run_case
from harness.runner.shards import parse_shard, shard_members
from harness.runner.expand import expand, load_manifest
from harness.scenario import Scenario

#: Fixtures for a team's own checks written as plain pytest tests (``harness_engine`` ...).
pytest_plugins = ["harness.runner.fixtures"]

RESULT_KEY = "harness_result"
_started_key = pytest.StashKey[float]()
_workdir_key = pytest.StashKey[Path]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "SQLite reliability harness")
    group.addoption("--harness-results", metavar="PATH", help="write the machine-readable results (JSON) here")
    group.addoption("--harness-junit", metavar="PATH", help="write JUnit XML (one testcase per case) here")
    group.addoption("--harness-seed", type=int, metavar="N", help="override every suite's seed")
    group.addoption("--harness-case", action="append", default=[], metavar="ID",
                    help="run only this case id (repeatable)")
    group.addoption("--harness-shard", metavar="I/N", help="run only shard I of N (1-based, deterministic)")
    group.addoption("--harness-workdir", metavar="DIR", help="where case directories are made (default: a temp dir)")
    group.addoption("--harness-keep", action="store_true", help="keep every case directory, not only failing ones")
    group.addoption("--harness-runbook-base", metavar="URL", help="base URL of runbook pages")
    group.addoption("--harness-cache", metavar="DIR", help="cache of materialised fixtures")
    parser.addini("harness_scenarios", type="paths", default=[],
                  help="scenario files or directories collected by a plain `pytest` run")
    group.addoption("--harness-profile", metavar="NAME", help="lay each scenario's [profiles.NAME] over it "
                    "(e.g. nightly: full cross products, more examples)")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_started_key] = time.time()
    config.pluginmanager.register(Recorder(config), "harness-recorder")
    base = config.getoption("harness_workdir")
    if base:
        root = Path(base)
        root.mkdir(parents=True, exist_ok=True)
        config.stash[_workdir_key] = Path(tempfile.mkdtemp(prefix="run-", dir=root))
    else:
        config.stash[_workdir_key] = Path(tempfile.mkdtemp(prefix="harness-run-"))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_scenario_file(file_path) and asked_for(parent.config, file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def asked_for(config: pytest.Config, file_path: Path) -> bool:
    """Whether this run asked for scenario files here.

    Installing the harness into an application's environment must not change that
    application's own test run, so scenario files are collected only at or under a path
    given on the command line (``pytest scenarios/``, which the harness's own commands
    do) or listed in the ``harness_scenarios`` ini option, never merely because a TOML file
    with a ``[suite]`` table lies under ``testpaths`` or the current directory.
    """
    roots: list[Path] = []
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        roots += [Path(arg.split("::", 1)[0]) for arg in config.args]
    root = config.inipath.parent if config.inipath else config.rootpath
    roots += [root / entry for entry in config.getini("harness_scenarios")]
    target = file_path.resolve()
    for entry in roots:
        where = (entry if entry.is_absolute() else config.invocation_params.dir / entry).resolve()
        if target == where or where in target.parents:
            return True
    return False


class _Loaded:
    """Per-process cache: an engine and a fixture store per scenario file."""

    engines: dict[Path, Engine] = {}
    stores: dict[Path, FixtureStore | None] = {}


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        scenario = scenario_mod.load(self.path, self.config.getoption("harness_profile"))
        manifest = load_manifest(scenario)
        seed = self.config.getoption("harness_seed")
        for case in expand(scenario, manifest, seed=seed):
            yield CaseItem.from_parent(self, name=case.id, case=case, scenario=scenario)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, HarnessError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)  # type: ignore[return-value]


class CaseFailed(Exception):
    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.summary)
        self.result = result


class CaseItem(pytest.Item):
    def __init__(self, *, case: Case, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.scenario = scenario

    def _engine(self) -> tuple[Engine, FixtureStore | None]:
        key = self.scenario.path
        if key not in _Loaded.engines:
            _Loaded.engines[key] = load_engine(self.scenario.engine, self.scenario.path)
            manifest = load_manifest(self.scenario)
            cache = self.config.getoption("harness_cache")
            sqlfiles = self.scenario.engine.adapter == "sqlfiles"  # its setup hook loads fixtures too
            setup = getattr(_Loaded.engines[key], "_setup", None) if sqlfiles else None
            _Loaded.stores[key] = FixtureStore(manifest, Path(cache) if cache else None, setup) if manifest else None
        return _Loaded.engines[key], _Loaded.stores[key]

    def runtest(self) -> None:
        engine, store = self._engine()
        workdir = self.config.stash[_workdir_key] / _dirname(self.case.id)
        workdir.mkdir(parents=True, exist_ok=False)
        verdict, seconds = run_case(self.case, self.scenario, engine, store, workdir)
        seed = self.config.getoption("harness_seed")
        result = result_of(
            self.case, verdict, seconds,
            scenario_label=_label(self.scenario.path, self.config.rootpath),
            suite_seed=self.scenario.seed if seed is None else seed,
            runbook_base=self.config.getoption("harness_runbook_base") or self.scenario.runbook_base
            or _reports_runbooks(self.config),
        )
        keep = self.config.getoption("harness_keep") or result.breaks_gate or result.outcome == "warned"
        if keep:
            result = _with_workdir(result, workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        self.user_properties.append((RESULT_KEY, json.dumps(asdict(result), default=str)))
        if result.outcome in (SKIPPED, BLOCKED):
            pytest.skip(result.summary)
        if result.breaks_gate:
            raise CaseFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, CaseFailed):
            return failure_text(excinfo.value.result)
        return super().repr_failure(excinfo)  # type: ignore[return-value]

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, (self.case.line - 1) if self.case.line else None, self.case.id


def _reports_runbooks(config: pytest.Config) -> str | None:
    results = config.getoption("harness_results")
    return run_base(Path(results).parent if results else None)


def _dirname(case_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", case_id)[:120]


def _label(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _with_workdir(result: CaseResult, workdir: Path) -> CaseResult:
    from dataclasses import replace

    return replace(result, observations={**result.observations, "workdir": str(workdir)})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = {split_listed_id(case)[1] for case in config.getoption("harness_case")}
    shard = config.getoption("harness_shard")
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    cases = [item for item in items if isinstance(item, CaseItem)]
    if shard:
        try:
            index, count = parse_shard(shard)
        except ValueError as exc:
            raise pytest.UsageError(f"--harness-shard: {exc}") from None
        chosen = set(shard_members([item.nodeid for item in cases], index, count))
    for item in items:
        if not isinstance(item, CaseItem):
            keep.append(item)
            continue
        ok = (not wanted or item.case.id in wanted) and (not shard or item.nodeid in chosen)
        (keep if ok else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


class Recorder:
    """Collects every case's result in the controlling process and writes the run's files."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.results: list[CaseResult] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for key, value in report.user_properties:
            if key == RESULT_KEY:
                raw = json.loads(value)
                raw["artifacts"] = tuple(raw.get("artifacts", ()))
                self.results.append(CaseResult(**raw))
                return
        if report.failed:
            self.results.append(_crash_result(report.nodeid, str(report.longrepr)))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(self.config, "workerinput"):
            return  # an xdist worker: the controller writes
        results_path = self.config.getoption("harness_results")
        junit_path = self.config.getoption("harness_junit")
        if not (results_path or junit_path):
            return
        run = build_run(self.config, tuple(self.results))
        if results_path:
            run.write(Path(results_path))
        if junit_path:
            junit.write(run, Path(junit_path))


def _crash_result(nodeid: str, text: str) -> CaseResult:
    name = nodeid.split("::", 1)[-1]
    return CaseResult(case_id=name, suite="harness", family="harness", check="internal", params={},
                      outcome=ERRORED, status="error", severity="error", summary="the harness crashed on this case",
                      runbook="harness-error", runbook_url="", scenario=nodeid.split("::")[0], line=None, seed=0,
                      repro=f"pytest {shlex.quote(nodeid.split('::')[0])} --harness-case={shlex.quote(name)}",
                      details=text[-4000:])


def build_run(config: pytest.Config, cases: tuple[CaseResult, ...]) -> RunResult:
    seeds = {c.seed for c in cases}
    override = config.getoption("harness_seed")
    started = config.stash[_started_key]
    return RunResult(
        cases=tuple(sorted(cases, key=lambda c: (c.scenario, natural_order(c.case_id)))),
        seed=override if override is not None else (min(seeds) if seeds else 0),
        seconds=round(time.time() - started, 3),
        started=datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
        sqlite_version=sqlite3.sqlite_version,
        compile_options=compile_options(),
        python_version=platform.python_version(),
        harness_version=harness.__version__,
        shard=config.getoption("harness_shard"),
        profile=config.getoption("harness_profile") or "default",
    )


def compile_options() -> tuple[str, ...]:
    conn = sqlite3.connect(":memory:")
    try:
        return tuple(r[0] for r in conn.execute("PRAGMA compile_options"))
    finally:
        conn.close()
