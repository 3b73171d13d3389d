"""Where a migration case starts: a fresh install or a private copy of a legacy fixture."""

from __future__ import annotations

from pathlib import Path

from harness.cases import format_id
from harness.checks import verdict as v
from harness.checks.context import CaseContext

FRESH = "fresh"


def is_fresh(ctx: CaseContext) -> bool:
    return ctx.case.param("fixture") in (None, FRESH)


def start_copy(ctx: CaseContext, name: str = "data") -> Path:
    """A new data directory holding the starting database (absent for a fresh install)."""
    return ctx.fresh_db(name) if is_fresh(ctx) else ctx.fixture_db(name)


def start_version(ctx: CaseContext) -> int:
    """The version the start has recorded in its history (0: fresh, or before history existed)."""
    if is_fresh(ctx):
        return 0
    fixture = ctx.fixture()
    return (fixture.schema_version or 0) if fixture.history else 0


def blocked_by_upgrade(ctx: CaseContext, code: object = None, fixture: str | None = None) -> v.Verdict:
    """A check that cannot judge a start whose plain upgrade failed: that start's ``upgrades``
    case reports the failure (once, with its cause); this one is blocked and names it."""
    params = ctx.case.params if fixture is None else (("fixture", fixture),)
    by = format_id(ctx.case.family, params, "upgrades")
    return v.blocked(by, f"the upgrade failed ({code})" if code else "the upgrade failed")
