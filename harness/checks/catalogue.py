"""The built-in checks, grouped in families, with what each needs and its runbook.

A family decides its axes (which parameter combinations it runs on: fixtures, snapshot
states ...); a check decides whether it applies to a combination and judges one case.
``harness list --checks`` prints this catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from harness.checks.context import CaseContext
from harness.checks.verdict import Verdict
from harness.fixtures.manifest import Manifest
from harness.scenario import FamilySpec

Params = tuple[tuple[str, str], ...]
Axes = Callable[[FamilySpec, "Manifest | None"], list[Params]]


@dataclass(frozen=True)
class CheckSpec:
    id: str
    description: str
    runbook: str
    run: Callable[[CaseContext], Verdict]
    needs: frozenset[str] = frozenset({"migrate"})  # engine operations
    applies: Callable[[Params], bool] = lambda params: True
    severity: str | None = None  # this check's default when the scenario does not say


@dataclass(frozen=True)
class Family:
    name: str
    description: str
    checks: tuple[CheckSpec, ...]
    axes: Axes
    default_fixtures: tuple[str, ...] = ()  # selectors when the scenario gives none
    params: Mapping[str, type | tuple[type, ...]] | None = None  # allowed [params] keys

    def check(self, check_id: str) -> CheckSpec | None:
        return next((c for c in self.checks if c.id == check_id), None)


def no_axes(spec: FamilySpec, manifest: Manifest | None) -> list[Params]:
    return [()]


def fixture_axes(spec: FamilySpec, manifest: Manifest | None, default: tuple[str, ...]) -> list[Params]:
    if manifest is None:
        return []
    return [(("fixture", f.name),) for f in manifest.select(spec.fixtures or default)]


def families() -> dict[str, Family]:
    """Every family, by name: the built-ins, then those plugins register (``harness.plugins``).

    Imported lazily: checks import this module.
    """
    from harness.checks import continuity, drills, hazards, install, matrix, plans, posture, recovery

    from harness import plugins

    found = [install.FAMILY, posture.FAMILY, continuity.FAMILY, matrix.FAMILY, recovery.FAMILY, drills.FAMILY,
             hazards.FAMILY, plans.FAMILY]
    builtins: dict[str, object] = {family.name: family for family in found}
    every = plugins.merged(plugins.FAMILIES, builtins, Family)
    return {name: family for name, family in every.items() if isinstance(family, Family)}
