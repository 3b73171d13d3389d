"""Connection posture: the pragmas the application relies on are really in force.

Connection-level settings cannot be read from the file, so the harness asks the engine for
the application's connection (python adapter: the adapter reads the pragmas itself) and
confirms the one that is persistent, WAL mode, from the file header.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from harness.checks import verdict as v
from harness.checks.catalogue import CheckSpec, Family, no_axes
from harness.checks.context import CaseContext
from harness.engines.protocol import Outcome
from harness.sqlite.fileformat import read_header

#: The seed application's posture; a scenario overrides it under [checks.posture.params].
DEFAULT_EXPECT: Mapping[str, str] = {"journal_mode": "wal", "synchronous": "1", "foreign_keys": "1"}
DEFAULT_MIN_BUSY_TIMEOUT_MS = 2000


def pragmas_in_force(ctx: CaseContext) -> v.Verdict:
    db = ctx.fresh_db()
    migrated = ctx.engine.migrate(db)
    if not migrated.ok:
        return v.errored(f"cannot judge posture: {migrated.describe()}")
    reported = ctx.engine.posture(db)
    if isinstance(reported, Outcome):
        return v.failed(f"the application's connection could not be opened: {reported.describe()}",
                        measured=reported.error_code, threshold="a connection")
    expect = {**DEFAULT_EXPECT, **{k: str(x) for k, x in dict(ctx.option("expect", {}) or {}).items()}}
    min_busy = int(ctx.option("min_busy_timeout_ms", DEFAULT_MIN_BUSY_TIMEOUT_MS))  # type: ignore[arg-type]
    actual = {k: str(x).lower() for k, x in reported.items()}
    wrong = [f"{name}: expected {want}, found {actual.get(name, 'nothing')}"
             for name, want in expect.items() if actual.get(name) != str(want).lower()]
    busy = actual.get("busy_timeout")
    if busy is None or not busy.isdigit() or int(busy) < min_busy:
        wrong.append(f"busy_timeout: expected at least {min_busy} ms, found {busy or 'nothing'}")
    if expect.get("journal_mode", "").lower() == "wal":
        header = read_header(db)
        if not header.wal_mode:
            wrong.append(f"file header: read/write versions {header.read_version}/{header.write_version}, "
                         "WAL mode writes 2/2")
    observations = {"pragmas": actual, "expected": expect, "min_busy_timeout_ms": min_busy}
    if wrong:
        return v.failed(f"posture not in force: {wrong[0]}", measured=f"{len(wrong)} settings wrong", threshold="0",
                        details="\n".join(wrong), observations=observations)
    return v.passed("journal_mode, synchronous, foreign_keys and busy_timeout in force", observations=observations)


@dataclass(frozen=True)
class PostureParams:
    """``[checks.posture.params]``: the pragma values the application must keep."""

    expect: Mapping[str, str | int | bool] = field(default_factory=dict)  # pragma -> value, over DEFAULT_EXPECT
    min_busy_timeout_ms: int = field(default=DEFAULT_MIN_BUSY_TIMEOUT_MS, metadata={"min": 0})


FAMILY = Family(
    name="posture",
    description="The application's connection applies and keeps its pragmas (WAL, synchronous, FKs, busy timeout).",
    checks=(CheckSpec("pragmas", "each pragma read back from the application's connection matches the policy",
                      "posture-drift", pragmas_in_force, needs=frozenset({"migrate", "posture"})),),
    axes=no_axes,
    params=PostureParams,
)
