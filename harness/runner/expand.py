"""Scenario -> cases: every family's checks over its axes, validated against the catalogue."""

from __future__ import annotations

import difflib
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
    return manifest_mod.load(scenario.fixtures_manifest) if scenario.fixtures_manifest else None


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
    return cases


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
