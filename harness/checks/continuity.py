"""Continuity: a database whose history the engine cannot trust is refused, untouched.

Each negative fixture (a gap, an unknown future version, a changed checksum, a failed row)
names the error code the engine must give. Refusing is not enough: the file and everything
beside it must be byte-identical afterwards, and no snapshot may have been taken.
"""

from __future__ import annotations

from harness.checks import verdict as v
from harness.checks.catalogue import CheckSpec, Family, fixture_axes
from harness.checks.context import CaseContext
from harness.sqlite.files import tree_digest


def refused_untouched(ctx: CaseContext) -> v.Verdict:
    fixture = ctx.fixture()
    db = ctx.fixture_db()
    before = tree_digest(db.parent)
    outcome = ctx.engine.migrate(db)
    after = tree_digest(db.parent)
    observations = {"expected_error": fixture.expect_error, "outcome": outcome.describe(),
                    "files_before": before, "files_after": after}
    if outcome.ok:
        return v.failed(f"{fixture.name}: migrated although its history is invalid ({fixture.description})",
                        measured="accepted", threshold=f"refused with {fixture.expect_error}",
                        observations=observations)
    changed = sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))
    if outcome.error_code != fixture.expect_error:
        return v.failed(f"{fixture.name}: refused with {outcome.error_code}, expected {fixture.expect_error}",
                        measured=str(outcome.error_code), threshold=str(fixture.expect_error),
                        details=outcome.message, observations=observations)
    if changed:
        return v.failed(f"{fixture.name}: refused but the data directory changed: {', '.join(changed)}",
                        measured=f"{len(changed)} files changed", threshold="0",
                        details="\n".join(f"{n}: {before.get(n, 'absent')} -> {after.get(n, 'absent')}"
                                          for n in changed), observations=observations)
    return v.passed(f"{fixture.name}: refused with {outcome.error_code}, every file byte-identical",
                    observations=observations)


FAMILY = Family(
    name="continuity",
    description="Databases with a broken history (gap, unknown version, changed checksum, failed row) are "
                "refused with the engine's error code and left byte-identical.",
    checks=(CheckSpec("refused", "refused with the expected error code, data directory byte-identical",
                      "continuity-break", refused_untouched),),
    axes=lambda scenario, spec, manifest: fixture_axes(spec, manifest, ("tag:negative",)),
    default_fixtures=("tag:negative",),
)
