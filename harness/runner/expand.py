"""Scenario -> cases: every family's checks over its axes, validated against the catalogue."""

from __future__ import annotations

import difflib
from dataclasses import replace
from pathlib import Path

from harness.cases import Case, case_seed, format_id
from harness.checks.catalogue import Family, families
from harness.errors import InputError
from harness.fixtures import manifest as manifest_mod
from harness.fixtures.manifest import Manifest
from harness.scenario import FamilySpec, Scenario


def _error(scenario: Scenario, spec: FamilySpec | None, key: str, problem: str) -> InputError:
    line = None
    if spec is not None:
        sub = key.removeprefix(f"checks.{spec.family}.")
        line = spec.key_lines.get(sub, spec.line)
    return InputError(scenario.path, problem, line=line, key=key)


def _hint(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def load_manifest(scenario: Scenario) -> Manifest | None:
    """The scenario's fixtures: with ``released``, the ``legacy`` ones at versions users can hold."""
    if not scenario.fixtures_manifest:
        return None
    loaded = manifest_mod.load(scenario.fixtures_manifest)
    if not (scenario.released or scenario.released_from_git):
        return loaded
    held = _released(scenario)
    kept = tuple(f for f in loaded.fixtures if "legacy" not in f.tags or str(f.schema_version) in held)
    return replace(loaded, fixtures=kept)


def _released(scenario: Scenario) -> set[str]:
    from harness.engines.loader import load_engine
    from harness.runner import released

    migrations = tuple(load_engine(scenario.engine, scenario.path).migrations())
    held = set(released.check_known(scenario.released, migrations, f"{scenario.path}: fixtures.released")) \
        if scenario.released else set()
    if scenario.released_from_git:
        directory = scenario.engine.directory or (scenario.engine.alembic_config.parent
                                                  if scenario.engine.alembic_config else None)
        if directory is None:
            raise InputError(scenario.path, "released_from_git needs an engine with a migration directory "
                             "(sqlfiles, dbmate, alembic): name the versions with released = [...]",
                             key="fixtures.released_from_git")
        held |= set(released.from_git(directory, migrations))
    return held


def expand(scenario: Scenario, manifest: Manifest | None, *, seed: int | None = None) -> list[Case]:
    """All cases of ``scenario`` in a stable order; bad names raise ``InputError`` (exit 2)."""
    catalogue = families()
    suite_seed = scenario.seed if seed is None else seed
    cases: list[Case] = []
    for spec in scenario.families:
        family = catalogue.get(spec.family)
        if family is None:
            raise _error(scenario, spec, f"checks.{spec.family}",
                         f"unknown check family{_hint(spec.family, list(catalogue))}; "
                         f"expected one of: {', '.join(catalogue)}")
        _validate(scenario, spec, family, manifest)
        if not spec.enabled:
            continue
        selected = [c for c in family.checks
                    if (not spec.only or c.id in spec.only) and c.id not in spec.skip]
        before = len(cases)
        for params in family.axes(spec, manifest):
            for check in selected:
                if not check.applies(params):
                    continue
                case_id = format_id(family.name, params, check.id)
                cases.append(Case(
                    suite=scenario.name,
                    scenario=scenario.path,
                    family=family.name,
                    check=check.id,
                    params=params,
                    severity=spec.severity_of(check.id, check.severity),
                    runbook=spec.runbooks.get(check.id, check.runbook),
                    line=spec.line,
                    seed=case_seed(suite_seed, case_id),
                    thresholds=dict(spec.thresholds),
                    options=dict(spec.params),
                ))
        if selected and len(cases) == before:
            raise _error(scenario, spec, f"checks.{spec.family}", _no_cases(spec, family))
    return cases


def _no_cases(spec: FamilySpec, family: Family) -> str:
    """Why an enabled family expands to no case: a family that checks nothing must not pass."""
    selectors = spec.fixtures or family.default_fixtures
    if selectors:
        tags = [s.removeprefix("tag:") for s in selectors if s.startswith("tag:")]
        hint = (f"; tag the fixtures it should start from with '{tags[0]}' in the manifest" if tags else "")
        return (f"expands to no case: no fixture in the manifest matches {', '.join(selectors)}{hint}, "
                f"or name them with fixtures = [...]")
    return "expands to no case (see its params and only/skip), so it would check nothing"


#: Families whose checks judge migration by migration: without the engine's list of
#: migrations they have nothing to compare with (every state "is" head) and would pass.
PER_MIGRATION = ("install", "matrix")


def check_operations(scenario: Scenario, cases: list[Case], operations: frozenset[str],
                     lists_migrations: bool = True) -> None:
    """Every case's check can run on an engine with ``operations``: a check whose operation the
    engine lacks would only be skipped, and a family of skips reads as a pass. So a missing
    operation (or, for the per-migration families, a missing list of migrations) is an input
    error naming the family and what to add (or ``skip``)."""
    catalogue = families()
    for case in cases:
        if not lists_migrations and case.family in PER_MIGRATION:
            spec = scenario.family(case.family)
            raise InputError(scenario.path, f"[checks.{case.family}] judges each migration, but the engine lists "
                             "none: add a migrations command that prints them (see the contract)",
                             line=spec.line if spec else None, key="engine.commands.migrations")
        check = next(c for c in catalogue[case.family].checks if c.id == case.check)
        missing = sorted(check.needs - operations)
        if not missing:
            continue
        spec = scenario.family(case.family)
        key = f"engine.commands.{missing[0]}" if scenario.engine.adapter == "command" else "engine.adapter"
        raise InputError(scenario.path, f"[checks.{case.family}] {case.check} needs the engine's '{missing[0]}' "
                         f"operation, which the {scenario.engine.adapter} adapter here does not offer: add it "
                         f"(see the contract) or leave the check out with skip = [\"{case.check}\"]",
                         line=spec.line if spec else None, key=key)


def _validate(scenario: Scenario, spec: FamilySpec, family: Family, manifest: Manifest | None) -> None:
    ids = [c.id for c in family.checks]
    where = f"checks.{spec.family}"
    for key in ("only", "skip"):
        for name in getattr(spec, key):
            if name not in ids:
                raise _error(scenario, spec, f"{where}.{key}",
                             f"'{name}' is not a {family.name} check{_hint(name, ids)}; expected one of: {', '.join(ids)}")
    for key in ("runbooks", "severities"):
        for name in getattr(spec, key):
            if name not in ids:
                raise _error(scenario, spec, f"{where}.{key}.{name}",
                             f"'{name}' is not a {family.name} check{_hint(name, ids)}; expected one of: {', '.join(ids)}")
    if family.params is not None:
        for name, value in spec.params.items():
            if name not in family.params:
                allowed = list(family.params)
                raise _error(scenario, spec, f"{where}.params.{name}",
                             f"unknown parameter{_hint(name, allowed)}; expected one of: {', '.join(allowed) or 'none'}")
            kind = family.params[name]
            if not isinstance(value, kind) or isinstance(value, bool) and bool not in (
                    kind if isinstance(kind, tuple) else (kind,)):
                raise _error(scenario, spec, f"{where}.params.{name}", f"expected {kind}, got {value!r:.40}")
    if family.default_fixtures or spec.fixtures:
        if manifest is None:
            raise _error(scenario, spec, where, f"the {family.name} family runs on fixtures: add "
                         "[fixtures] manifest = \"…/manifest.toml\" to the scenario")
        bad = manifest.unknown_selectors(spec.fixtures)
        if bad:
            names = [f.name for f in manifest.fixtures]
            raise _error(scenario, spec, f"{where}.fixtures",
                         f"'{bad[0]}' matches no fixture{_hint(bad[0], names)} in {Path(manifest.path).name}")
