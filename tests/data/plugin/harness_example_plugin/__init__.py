"""A team's own check family, registered from outside the harness package (entry points only).

``page-size``: a fresh install's database file uses the page size the team chose (a
larger page helps their blob-heavy tables; an engine change that drops the PRAGMA would
silently halve it). It also shows the parts a family is made of: a check function judging
one case, a ``Family`` with its axes and declared params.
"""

from __future__ import annotations

from harness.checks import verdict as v
from harness.checks.catalogue import CheckSpec, Family, no_axes
from harness.checks.context import CaseContext
from harness.sqlite.fileformat import read_header


def fresh_page_size(ctx: CaseContext) -> v.Verdict:
    db = ctx.fresh_db()
    outcome = ctx.engine.migrate(db)
    if not outcome.ok:
        return v.errored(f"cannot judge the page size: {outcome.describe()}")
    want = int(ctx.option("page_size", 4096))  # type: ignore[call-overload]
    found = read_header(db).page_size
    if found != want:
        return v.failed(f"fresh install uses {found}-byte pages, expected {want}", measured=str(found),
                        threshold=str(want))
    return v.passed(f"fresh install uses {found}-byte pages")


FAMILY = Family(
    name="page-size",
    description="A fresh install's database uses the page size the team chose.",
    checks=(CheckSpec("fresh", "page size of a freshly installed database", "schema-drift", fresh_page_size),),
    axes=no_axes,
    params={"page_size": int},
)
