"""``harness``: the command line. Exit 0 gate passed, 1 gate failed, 2 bad input or harness error."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from harness import scenario as scenario_mod
from harness.cases import split_listed_id
from harness.checks.catalogue import families
from harness.engines.formats import FORMATS
from harness.engines.loader import load_engine
from harness.errors import HarnessError, InputError
from harness.reporting import results as results_mod
from harness.reporting.results import RunResult
from harness.runner.expand import check_operations, expand, load_manifest
from harness.reporting.console import failure_text, summary
from harness.reporting.sanitize import terminal_line
from harness.runner.discovery import is_scenario_file
from harness.reporting.publish import clear as clear_reports
from harness.reporting.publish import reports_lock
from harness.runner.history_check import check_declared_history
from harness.runner.shards import parse_shard, shard_members
from harness.tomlfile import suggest

DEFAULT_SCENARIOS = "scenarios"
PLUGIN = "harness.runner.plugin"


def find_scenarios(paths: Sequence[str]) -> list[Path]:
    found: list[Path] = []
    for raw in paths or [DEFAULT_SCENARIOS]:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.toml") if is_scenario_file(p))
        elif path.is_file():
            if not is_scenario_file(path):
                raise InputError(path, "is not a scenario file (a TOML file with a [suite] table)")
            found.append(path)
        else:
            raise InputError(path, "no such file or directory")
    if not found:
        raise InputError(", ".join(paths or [DEFAULT_SCENARIOS]), "holds no scenario files (*.toml with a [suite] table)")
    return found


def validate(paths: Sequence[Path], seed: int | None = None, profile: str | None = None, *,
             probe: bool = False) -> dict[Path, list]:
    """Load every scenario, manifest and engine, and expand the cases: bad input fails here.

    Every profile a scenario declares is validated too (a mistake in the nightly profile
    fails the pull request's gate, not the night), and a ``profile`` that no scenario
    declares is an error rather than a run of the base scenarios. With ``probe``, each
    engine's migration list is read now, so an engine that cannot give one stops the run
    before any case instead of erroring every case.
    """
    expanded = {}
    declared: set[str] = set()
    for path in paths:
        scenario = scenario_mod.load(path, profile)
        manifest = load_manifest(scenario)
        expanded[path] = expand(scenario, manifest, seed=seed)
        declared.update(scenario.profiles)
        for other in scenario.profiles:
            if other != profile:
                layered = scenario_mod.load(path, other)
                expand(layered, load_manifest(layered), seed=seed)
        engine = load_engine(scenario.engine, scenario.path)
        check_operations(scenario, expanded[path], frozenset(engine.operations),
                         lists_migrations=getattr(engine, "lists_migrations", True))
        check_declared_history(scenario, manifest)
        if probe:
            _probe_migrations(engine, scenario)
            for note in getattr(engine, "notes", ()):  # files in a migrations directory that are not run
                print(f"note: {path}: {terminal_line(note, None)}", file=sys.stderr)
    if profile is not None and profile not in declared:
        known = ", ".join(sorted(declared)) or "none"
        raise InputError("--profile", f"no scenario declares a profile '{profile}'{suggest(profile, declared)}; "
                         f"declared: {known}")
    return expanded


def _probe_migrations(engine: object, scenario: scenario_mod.Scenario) -> None:
    try:
        engine.migrations()  # type: ignore[attr-defined]
    except InputError as exc:
        raise InputError(scenario.path, f"the engine cannot list its migrations: {exc}; fix the engine's "
                         "migrations command or target", line=scenario.engine.line, key="engine") from None
    except HarnessError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever it raised, no case could run
        raise InputError(scenario.path, f"the engine cannot list its migrations: {type(exc).__name__}: {exc}",
                         line=scenario.engine.line, key="engine") from None


def check_environment(paths: Sequence[Path], profile: str | None, reports: Path | None,
                      workdir: str | None, *, cache: bool = False) -> None:
    """Directories the run writes and the fixtures it reads, checked before any case runs."""
    from harness.fixtures.store import CACHE_ENV, default_cache_dir
    from harness.runner import preflight

    if reports is not None:
        preflight.writable_dir(reports, "reports", "free space or give --reports a writable directory")
    base = Path(workdir) if workdir else Path(tempfile.gettempdir())
    preflight.writable_dir(base, "case directories", "free space, or give --workdir (or TMPDIR) a writable "
                           "directory")
    manifests = {}
    for path in paths:
        scenario = scenario_mod.load(path, profile)
        manifest = load_manifest(scenario)
        if manifest is not None:
            manifests[manifest.path] = manifest
    if manifests or cache:
        preflight.writable_dir(default_cache_dir(), "fixture cache", f"set {CACHE_ENV} to a writable directory")
    for manifest in manifests.values():
        preflight.fixtures_intact(manifest)


def check_arguments(args: argparse.Namespace) -> None:
    """Command-line values pytest would otherwise meet first (with a traceback or INTERNALERROR)."""
    workers = getattr(args, "workers", None)
    if workers not in (None, "auto", "logical") and not (str(workers).isdigit()):
        raise InputError("--workers", f"expected a number of workers, 'auto' or 0, got '{workers}'")
    expression = getattr(args, "k", None)
    if expression:
        try:
            from _pytest.mark.expression import Expression
        except ImportError:  # pragma: no cover - pytest moved it: pytest reports the error itself
            return
        try:
            Expression.compile(expression)
        except Exception as exc:  # noqa: BLE001 - SyntaxError or pytest's ParseError, by version
            raise InputError("-k", f"not a valid expression: {getattr(exc, 'msg', None) or exc} "
                             f"(column {getattr(exc, 'offset', None) or getattr(exc, 'column', '?')} of "
                             f"{expression!r}); use words, 'and', 'or', 'not' and parentheses") from None


def check_cases(expanded: dict[Path, list], wanted: Sequence[str]) -> None:
    """Every ``--case`` names a case of the scenarios being run."""
    ids = [case.id for cases in expanded.values() for case in cases]
    known = set(ids)
    for listed in wanted:
        case_id = split_listed_id(listed)[1]  # `harness list` prints scenario.toml::id; both forms name a case
        if case_id not in known:
            raise InputError("--case", f"no case '{listed}'{suggest(case_id, ids)} (see `harness list`)")


def _plugin_args() -> list[str]:
    registered = any(ep.value == PLUGIN for ep in importlib.metadata.entry_points(group="pytest11"))
    return [] if registered else ["-p", PLUGIN]


def run_pytest(files: Sequence[Path], reports: Path, extra: Sequence[str]) -> int:
    import pytest

    reports.mkdir(parents=True, exist_ok=True)
    # --tb=no -rE: a failing case is told once, in the closing lines, under its root cause
    # (the reports and `harness repro` hold its details); errors outside cases still show.
    args = [*_plugin_args(), "-q", "--no-header", "--tb=no", "-rE", "-p", "no:randomly", "-o", "addopts=",
            "--rootdir", os.getcwd(),
            "-W", "ignore::pytest.PytestAssertRewriteWarning",
            f"--harness-results={reports / 'results.json'}", f"--harness-junit={reports / 'junit.xml'}",
            *extra, *map(str, files)]
    return int(pytest.main(args))


def cmd_gate(args: argparse.Namespace) -> int:
    check_arguments(args)
    files = find_scenarios(args.paths)
    check_cases(validate(files, args.seed, args.profile, probe=True), args.case or ())
    reports = Path(args.reports)
    check_environment(files, args.profile, reports, args.workdir)
    extra: list[str] = []
    if args.profile:
        extra.append(f"--harness-profile={args.profile}")
    if args.workers not in (None, "0"):
        extra += ["-n", args.workers]
    if args.seed is not None:
        extra.append(f"--harness-seed={args.seed}")
    if args.shard:
        try:
            parse_shard(args.shard)
        except ValueError as exc:
            raise InputError("--shard", str(exc)) from None
        extra.append(f"--harness-shard={args.shard}")
    if args.keep:
        extra.append("--harness-keep")
    if args.k:
        extra += ["-k", args.k]
    for case in args.case or []:  # a bare id, or the `scenario.toml::id` that `harness list` prints
        extra.append(f"--harness-case={split_listed_id(case)[1]}")
    if args.workdir:
        extra.append(f"--harness-workdir={args.workdir}")
    if args.runbook_base:
        extra.append(f"--harness-runbook-base={args.runbook_base}")
    with reports_lock(reports):
        clear_reports(reports)  # from here on the directory holds this run's set, or nothing
        status = run_pytest(files, reports, extra)
        results_file = reports / "results.json"
        if not results_file.is_file():
            print(f"harness: pytest ended with status {status} before the gate could judge", file=sys.stderr)
            return 2
        run = shipped(results_mod.read(results_file), reports)
        if not run.cases:
            print("harness: no case ran (check the -k / --case / --shard selection)", file=sys.stderr)
            return 2
        written = write_reports(run, reports)
    print(summary(run, ", ".join(str(p) for p in written)))
    from harness.runner.plugin import INTERRUPTED_ID

    if any(case.case_id == INTERRUPTED_ID for case in run.cases):
        return 130
    if status in (3, 4):
        return 2
    return 0 if run.passed else 1


def write_reports(run: RunResult, reports: Path) -> list[Path]:
    from harness.reporting.publish import write_all
    from harness.runner.preflight import report_write_error

    try:
        return write_all(run, reports)
    except OSError as exc:
        raise report_write_error(exc, reports) from None


def shipped(run: RunResult, reports: Path) -> RunResult:
    """``run`` with runbook links that resolve where the reports are (see ``reporting.links``)."""
    from harness.reporting.links import ship

    return ship(run, reports)


def cmd_shard(args: argparse.Namespace) -> int:
    import json

    if args.count < 1:
        raise InputError("--count", f"expected a positive number of shards, got {args.count}")
    nodeids = [f"{path.as_posix()}::{case.id}" for path, cases in
               validate(find_scenarios(args.paths), profile=args.profile).items() for case in cases]
    shards = [f"{i}/{args.count}" for i in range(1, args.count + 1)]
    sizes = [len(shard_members(nodeids, i, args.count)) for i in range(1, args.count + 1)]
    print(json.dumps({"shard": shards}))  # only the matrix key: fromJSON() expands every key it is given
    print(f"{len(nodeids)} cases in {args.count} shards: {', '.join(map(str, sizes))}", file=sys.stderr)
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from harness.reporting.merge import merge

    run = merge([results_mod.read(Path(p)) for p in args.results])
    reports = Path(args.reports)
    with reports_lock(reports):
        written = write_reports(run, reports)
    print(summary(run, ", ".join(str(p) for p in written)))
    return 0 if run.passed else 1


def cmd_report(args: argparse.Namespace) -> int:
    run = results_mod.read(Path(args.results))
    with reports_lock(Path(args.reports)):
        written = write_reports(run, Path(args.reports))
    print(summary(run, ", ".join(str(p) for p in written)))
    return 0 if run.passed else 1


def cmd_list(args: argparse.Namespace) -> int:
    if args.checks:
        for family in families().values():
            print(f"{family.name}: {family.description}")
            for check in family.checks:
                print(f"  {family.name}::{check.id}  [runbook {check.runbook}]  {check.description}")
        return 0
    for path, cases in validate(find_scenarios(args.paths), profile=args.profile).items():
        for case in cases:
            print(f"{path.as_posix()}::{case.id}")
    return 0


def cmd_repro(args: argparse.Namespace) -> int:
    listed, case_id = split_listed_id(args.case_id)  # `harness list` prints scenario.toml::id
    scenario = args.scenario or listed
    files = find_scenarios([scenario] if scenario else [])
    owners = [p for p, cases in validate(files, args.seed).items() if any(c.id == case_id for c in cases)]
    if not owners:
        raise InputError(scenario or DEFAULT_SCENARIOS, f"no case '{case_id}' (see `harness list`)")
    if len(owners) > 1:
        raise InputError(case_id, f"is in several scenarios ({', '.join(map(str, owners))}): add --scenario")
    workdir = Path(args.workdir).resolve()
    reports = workdir / "reports"
    extra = [f"--harness-case={case_id}", "--harness-keep", f"--harness-workdir={workdir}"]
    if args.seed is not None:
        extra.append(f"--harness-seed={args.seed}")
    status = run_pytest(owners, reports, extra)
    results_file = reports / "results.json"
    if status in (2, 3, 4) or not results_file.is_file():
        return 2
    run = results_mod.read(results_file)
    for case in run.cases:
        print(failure_text(case) if case.breaks_gate or case.outcome == "warned"
              else f"{case.case_id} {case.outcome.upper()}: {case.summary}")
        print(f"case files: {case.observations.get('workdir', workdir)}")
    return 0 if run.passed else 1


def cmd_fixtures_build(args: argparse.Namespace) -> int:
    from harness.fixtures import build, recipe

    path = Path(args.recipe)
    manifest = build.build(recipe.load(path), Path(args.out) if args.out else path.parent)
    print(f"wrote {manifest}")
    return 0


def cmd_fixtures_verify(args: argparse.Namespace) -> int:
    from harness.fixtures import capture, manifest
    from harness.fixtures.store import FixtureStore

    loaded = manifest.load(Path(args.manifest))
    checks = capture.verify(loaded, FixtureStore(loaded))
    for check in checks:
        print(f"{'ok  ' if not check.problems else 'FAIL'} {check.fixture}")
        for problem in check.problems:
            print(f"     {problem}")
    bad = sum(1 for c in checks if c.problems)
    print(f"{len(checks) - bad} of {len(checks)} fixtures match {args.manifest}")
    return 1 if bad else 0


def cmd_fixtures_capture(args: argparse.Namespace) -> int:
    from harness.fixtures import capture

    db = Path(args.db)
    name = args.name or f"captured-v{args.version}-{db.stem.lower()}"
    tags = tuple(args.tag or ["captured"])
    path = capture.capture(db, Path(args.manifest), version=args.version, name=name, tags=tags,
                           description=args.description or "", expect_error=args.expect_error)
    print(f"wrote {path} and its entry in {args.manifest}")
    return 0


def cmd_migrations(args: argparse.Namespace) -> int:
    from harness.runner import preflight, zeroconf

    check_arguments(args)
    if not 0 < args.timeout <= scenario_mod.MAX_TIMEOUT:
        raise InputError("--timeout", f"expected seconds between 0 and {scenario_mod.MAX_TIMEOUT:g}, got {args.timeout:g}")
    if args.rows < 0:
        raise InputError("--rows", f"expected 0 or more rows per table, got {args.rows}")
    if args.junit:
        preflight.writable_file(Path(args.junit), "JUnit file", "give --junit a path in a writable directory")
    from harness.runner.released import parse_list

    reports = Path(args.reports)
    # the written scenario and fixtures stay beside the reports: their repro commands run them
    workdir = Path(args.workdir) if args.workdir else reports / "migrations"
    released = parse_list(args.released, "--released") if args.released else None
    check_environment((), None, workdir, None, cache=True)
    try:
        if not args.workdir and (workdir / "fixtures").is_dir():
            shutil.rmtree(workdir / "fixtures")  # the previous run's databases: rebuilt below
        prepared = zeroconf.prepare(Path(args.directory), fmt=args.format, setup=args.setup, seed=args.seed,
                                    rows=args.rows, workdir=workdir,
                                    foreign_keys=None if args.foreign_keys is None else args.foreign_keys == "on",
                                    released=released, released_from_git=args.released_from_git, history=args.history, timeout=args.timeout)
    except HarnessError:
        raise
    except Exception as exc:  # noqa: BLE001 - preparing is the harness's work: one line, exit 2, no traceback
        raise HarnessError(f"cannot prepare {args.directory}: {type(exc).__name__}: {exc}") from None
    extra = ["--harness-keep"] if args.keep else []
    if args.runbook_base:
        extra.append(f"--harness-runbook-base={args.runbook_base}")
    if args.workers not in (None, "0"):
        extra += ["-n", args.workers]
    status = run_pytest([prepared.scenario], reports, extra)
    results_file = reports / "results.json"
    if status in (2, 3, 4) or not results_file.is_file():
        print(f"harness: pytest ended with status {status} before the gate could judge", file=sys.stderr)
        return 2
    run = shipped(results_mod.read(results_file), reports)
    written = write_reports(run, reports)
    if args.junit:
        from harness.reporting import junit

        try:
            junit.write(run, Path(args.junit))
        except OSError as exc:
            raise preflight.report_write_error(exc, Path(args.junit)) from None
        written.append(Path(args.junit))
    print(summary(run, f"{', '.join(map(str, written))}; rerun: harness gate {_shown(prepared.scenario)}"))
    return 0 if run.passed else 1


def _shown(path: Path) -> str:
    """``path`` relative to the current directory when inside it (what a user would type)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def cmd_plans(args: argparse.Namespace) -> int:
    from harness.plans.command import run

    return run(find_scenarios(args.paths), update=args.update, queries=args.query or (), profile=args.profile)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description="Reliability gate for applications that keep "
                                     "their data in SQLite: migration matrix, recovery drills, plan assertions.")
    parser.add_argument("--version", action="version", version=f"harness {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gate = sub.add_parser("gate", help="run the suite and write reports/junit.xml (exit 0 pass, 1 fail, 2 error)")
    gate.add_argument("paths", nargs="*", help=f"scenario files or directories (default: {DEFAULT_SCENARIOS}/)")
    gate.add_argument("--reports", default="reports", help="directory for junit.xml and results.json")
    gate.add_argument("-n", "--workers", default="auto", help="pytest-xdist workers: a number, 'auto', or 0 (serial)")
    gate.add_argument("--seed", type=int, help="override the suites' seeds")
    gate.add_argument("--shard", metavar="I/N", help="run shard I of N")
    gate.add_argument("--case", action="append", metavar="ID", help="run only this case id (repeatable)")
    gate.add_argument("-k", metavar="EXPR", help="pytest -k expression over case ids")
    gate.add_argument("--keep", action="store_true", help="keep every case's files, not only failing ones")
    gate.add_argument("--workdir", help="where case directories are made")
    gate.add_argument("--profile", help="lay each scenario's [profiles.NAME] over it (e.g. nightly)")
    gate.add_argument("--runbook-base", help="base URL of runbook pages (default: the repository's runbooks/, on "
                      "GitHub Actions the pages at the commit under test)")
    gate.set_defaults(func=cmd_gate)

    lister = sub.add_parser("list", help="print the case ids (or, with --checks, the check catalogue)")
    lister.add_argument("paths", nargs="*")
    lister.add_argument("--checks", action="store_true", help="print the built-in checks and their runbooks")
    lister.add_argument("--profile", help="lay each scenario's [profiles.NAME] over it")
    lister.set_defaults(func=cmd_list)

    shard = sub.add_parser("shard", help="print the shard matrix as JSON for a CI matrix (every case in one shard)")
    shard.add_argument("paths", nargs="*")
    shard.add_argument("--count", type=int, required=True)
    shard.add_argument("--profile")
    shard.set_defaults(func=cmd_shard)

    merge = sub.add_parser("merge", help="combine shards' results.json into one run and its reports")
    merge.add_argument("results", nargs="+", help="results.json files of the shards")
    merge.add_argument("--reports", default="reports")
    merge.set_defaults(func=cmd_merge)

    report = sub.add_parser("report", help="re-render the reports from a saved results.json")
    report.add_argument("results")
    report.add_argument("--reports", default="reports")
    report.set_defaults(func=cmd_report)

    repro = sub.add_parser("repro", help="rerun exactly one case, keeping its files")
    repro.add_argument("case_id")
    repro.add_argument("--scenario", help="the scenario file that holds the case")
    repro.add_argument("--seed", type=int)
    repro.add_argument("--workdir", default="reports/repro", help="where the case's files are kept")
    repro.set_defaults(func=cmd_repro)
    migrations = sub.add_parser("migrations", help="zero-config: gate a directory of SQL migration files "
                                "(a legacy database per version, upgraded and compared with a fresh install)")
    migrations.add_argument("directory")
    migrations.add_argument("--format", default="auto", help=f"{', '.join(FORMATS)} or auto")
    migrations.add_argument("--setup", help="FILE.py:CALLABLE or module:callable called with each new connection")
    migrations.add_argument("--foreign-keys", choices=("on", "off"),
                            help="migrate with PRAGMA foreign_keys ON or OFF (default: as the framework's driver "
                                 "starts, where the repository shows it, else ON)")
    migrations.add_argument("--history", help="the history table: a preset (a format's name) or "
                            "table=T,version=COL[,name=COL][,checksum=COL][,applied_at=COL][,success=COL]"
                            "[,kind=integer|timestamp|text][,preset=P]")
    migrations.add_argument("--reports", default="reports", help="directory for the reports (HTML, Markdown, "
                            "JUnit, results.json) and, under migrations/, the scenario and fixtures they rerun")
    migrations.add_argument("--junit", help="also write the JUnit XML here")
    migrations.add_argument("--released", metavar="V1,V2,…", help="only these versions were released: legacy "
                            "databases only at them (default: every version)")
    migrations.add_argument("--released-from-git", action="store_true", help="the released versions are the "
                            "repository's tags: at each, the newest migration present")
    migrations.add_argument("--runbook-base", help="base URL of runbook pages (default: pages copied next to the "
                            "report)")
    migrations.add_argument("--timeout", type=float, default=scenario_mod.DEFAULT_TIMEOUT,
                            help="seconds one migration file's SQL may run before it is reported as a hang "
                            f"(default {scenario_mod.DEFAULT_TIMEOUT:g})")
    migrations.add_argument("--seed", type=int, default=0)
    migrations.add_argument("--rows", type=int, default=20, help="generated rows per table in each legacy database")
    migrations.add_argument("--workdir", help="write the scenario and fixtures here (default: REPORTS/migrations)")
    migrations.add_argument("-n", "--workers", default="0", help="pytest-xdist workers (default serial)")
    migrations.add_argument("--keep", action="store_true", help="keep every case's files")
    migrations.set_defaults(func=cmd_migrations)

    plans = sub.add_parser("plans", help="print the hot queries' plan trees; --update rewrites the plan baselines")
    plans.add_argument("paths", nargs="*", help=f"scenario files or directories (default: {DEFAULT_SCENARIOS}/)")
    plans.add_argument("--update", action="store_true", help="rewrite each query's baseline file (.plan)")
    plans.add_argument("--query", action="append", metavar="NAME", help="only this query (repeatable)")
    plans.add_argument("--profile", help="lay each scenario's [profiles.NAME] over it")
    plans.set_defaults(func=cmd_plans)

    fixtures = sub.add_parser("fixtures", help="build, verify and capture fixture databases")
    fsub = fixtures.add_subparsers(dest="fixtures_command", required=True, metavar="ACTION")
    fbuild = fsub.add_parser("build", help="regenerate fixtures from the migrations (reproducible)")
    fbuild.add_argument("--recipe", default="fixtures/recipe.toml")
    fbuild.add_argument("--out", help="output directory (default: the recipe's directory)")
    fbuild.set_defaults(func=cmd_fixtures_build)
    fverify = fsub.add_parser("verify", help="check every fixture against its manifest (exit 1 on a mismatch)")
    fverify.add_argument("--manifest", default="fixtures/manifest.toml")
    fverify.set_defaults(func=cmd_fixtures_verify)
    fcapture = fsub.add_parser("capture", help="turn a real application database into a fixture (read-only)")
    fcapture.add_argument("db", help="the database file (never modified)")
    fcapture.add_argument("--version", type=int, required=True, help="the schema version it represents")
    fcapture.add_argument("--name", help="fixture name (default: captured-v<V>-<file stem>)")
    fcapture.add_argument("--tag", action="append", help="a tag (repeatable; default: captured)")
    fcapture.add_argument("--description")
    fcapture.add_argument("--expect-error", metavar="CODE", help="with --tag negative: the error code the engine "
                          "must refuse this database with")
    fcapture.add_argument("--manifest", default="fixtures/manifest.toml")
    fcapture.set_defaults(func=cmd_fixtures_capture)
    return parser


def _version() -> str:
    from harness import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except HarnessError as exc:
        print(f"harness: {terminal_line(str(exc), 4000)}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - never a traceback: one line, exit 2 (HARNESS_DEBUG=1 shows it)
        if os.environ.get("HARNESS_DEBUG"):
            raise
        print(f"harness: internal error: {terminal_line(f'{type(exc).__name__}: {exc}')} "
              "(rerun with HARNESS_DEBUG=1 for the traceback)", file=sys.stderr)
        return 2
