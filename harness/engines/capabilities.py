"""Optional engine capabilities, as protocols the checks ask for with ``isinstance``.

An adapter offers a capability by having its members; nothing registers it and no check
names an adapter. Both are ``runtime_checkable`` (which looks for the members, not their
signatures), so a wrapper that forwards attributes (the runner's guard) offers what the
engine behind it offers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Protocol, Sequence, runtime_checkable

from harness.engines.protocol import Fault, FaultRun, Outcome

#: Rewrites a command line before it runs (e.g. to run it under strace).
Wrap = Callable[[Sequence[str]], Sequence[str]]


@runtime_checkable
class FaultInjectable(Protocol):
    """Runs its migration with a fault at a counted point (``harness.engines.faults``).

    ``faults`` may be empty where the mechanism is unavailable (no strace, no fork). The
    members' contract is written on ``harness.engines.protocol.Engine``."""

    @property
    def faults(self) -> frozenset[str]: ...

    def count_points(self, db: Path, target: int | None, kind: str) -> FaultRun: ...

    def migrate_with_fault(self, db: Path, target: int | None, fault: Fault) -> FaultRun: ...


@runtime_checkable
class Traceable(Protocol):
    """Runs each operation as a process of its own, whose command line the harness may wrap.

    ``run_wrapped`` runs ``operation`` (one of the engine's ``operations``) on ``db`` with
    its argv passed through ``wrap`` first, with the engine's own timeout and error rules;
    ``trace_cwd`` is the directory its processes start in (None: the harness's), against
    which relative paths in a trace resolve."""

    trace_cwd: Path | None

    def run_wrapped(self, operation: str, db: Path, target: int | None, wrap: Wrap) -> Outcome: ...


__all__ = ["FaultInjectable", "Traceable", "Wrap"]
