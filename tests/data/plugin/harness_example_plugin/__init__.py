"""A team's own check family, registered from outside the harness package (entry points only).

``page-size``: a fresh install's database file uses the page size the team chose (a
larger page helps their blob-heavy tables; an engine change that drops the PRAGMA would
silently halve it). It also shows the parts a family is made of: a check function judging
one case, a ``Family`` with its axes and declared params.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.checks import verdict as v
from harness.checks.catalogue import CheckSpec, Family, no_axes
from harness.checks.context import CaseContext
from harness.sqlite.fileformat import read_header


def fresh_page_size(ctx: CaseContext) -> v.Verdict:
    db = ctx.fresh_db()
    outcome = ctx.engine.migrate(db)
    if not outcome.ok:
        return v.errored(f"cannot judge the page size: {outcome.describe()}")
    want = ctx.settings.page_size
    found = read_header(db).page_size
    if found != want:
        return v.failed(f"fresh install uses {found}-byte pages, expected {want}", measured=str(found),
                        threshold=str(want))
    return v.passed(f"fresh install uses {found}-byte pages")


@dataclass(frozen=True)
class PageSizeParams:
    """``[checks.page-size.params]``: validated by the harness (a misspelt key is exit 2)."""

    page_size: int = field(default=4096, metadata={"min": 512, "max": 65536})


FAMILY = Family(
    name="page-size",
    description="A fresh install's database uses the page size the team chose.",
    checks=(CheckSpec("fresh", "page size of a freshly installed database", "schema-drift", fresh_page_size),),
    axes=no_axes,
    params=PageSizeParams,
)
