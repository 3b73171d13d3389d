"""Running one case: the check on a private directory, turned into a result record."""

from __future__ import annotations

import shlex
import time
import traceback
from pathlib import Path

from harness.cases import Case
from harness.checks.catalogue import families
from harness.checks.context import CaseContext
from harness.checks.verdict import Verdict, errored, skipped
from harness.engines.protocol import Engine, Outcome
from harness.fixtures.store import FixtureStore
from harness.reporting.links import runbook_url
from harness.reporting.results import CaseResult, outcome_of
from harness.scenario import Scenario


class EngineHung(Exception):
    """The engine did not finish an operation within its timeout: the case errors, the run goes on."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.message or f"{outcome.operation} timed out")
        self.outcome = outcome


class _Guarded:
    """The engine as checks see it: a timed-out operation ends the case as an error.

    Checks judge what an engine did; an engine that never answered did nothing to judge,
    so no check has to tell a hang from a refusal.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.name = engine.name
        self.operations = engine.operations

    def migrations(self):  # type: ignore[no-untyped-def]
        return self._engine.migrations()

    def __getattr__(self, operation: str):  # type: ignore[no-untyped-def]
        method = getattr(self._engine, operation)
        if not callable(method):
            return method

        def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            result = method(*args, **kwargs)
            outcome = getattr(result, "outcome", result)  # a FaultRun carries its Outcome
            if isinstance(outcome, Outcome) and outcome.timed_out:
                raise EngineHung(outcome)
            return result

        return call


def run_case(case: Case, scenario: Scenario, engine: Engine, store: FixtureStore | None,
             workdir: Path) -> tuple[Verdict, float]:
    """Judge one case; an exception inside a check is an ``error`` verdict, never a crash."""
    check = families()[case.family].check(case.check)
    assert check is not None
    missing = sorted(check.needs - engine.operations)
    if missing:
        return skipped(f"engine '{engine.name}' does not offer: {', '.join(missing)}"), 0.0
    ctx = CaseContext(case=case, scenario=scenario, engine=_Guarded(engine), store=store,  # type: ignore[arg-type]
                      workdir=workdir)
    start = time.perf_counter()
    try:
        verdict = check.run(ctx)
    except EngineHung as hung:
        verdict = errored(f"the engine hung and was killed: {hung.outcome.describe()}",
                          measured=f"{hung.outcome.seconds:.1f}s", threshold="the engine's timeout",
                          details=(hung.outcome.stdout + hung.outcome.stderr)[-4000:])
    except Exception as exc:  # noqa: BLE001 - an engine or harness fault is reported, the run goes on
        verdict = errored(f"{type(exc).__name__} while running the check: {exc}",
                          details=traceback.format_exc(limit=12))
    return verdict, time.perf_counter() - start


def repro_command(case_id: str, scenario: str, seed: int) -> str:
    """One command that reruns exactly this case, with its seed, keeping its files."""
    return f"harness repro {shlex.quote(case_id)} --scenario {shlex.quote(scenario)} --seed {seed}"


def result_of(case: Case, verdict: Verdict, seconds: float, *, scenario_label: str, suite_seed: int,
              runbook_base: str | None) -> CaseResult:
    return CaseResult(
        case_id=case.id,
        suite=case.suite,
        family=case.family,
        check=case.check,
        params=dict(case.params),
        outcome=outcome_of(verdict.status, verdict.severity or case.severity),
        status=verdict.status,
        severity=verdict.severity or case.severity,
        summary=verdict.summary,
        runbook=verdict.runbook or case.runbook,
        runbook_url=runbook_url(verdict.runbook or case.runbook, runbook_base),
        scenario=scenario_label,
        line=case.line,
        seed=suite_seed,
        repro=repro_command(case.id, scenario_label, suite_seed),
        seconds=round(seconds, 6),
        measured=verdict.measured,
        threshold=verdict.threshold,
        details=verdict.details,
        observations=dict(verdict.observations),
        artifacts=verdict.artifacts,
        cause=verdict.cause.as_dict() if verdict.cause else None,
        blocked_by=verdict.blocked_by,
    )
