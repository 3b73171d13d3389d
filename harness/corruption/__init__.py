"""The catalogue of damage and faults the corruption drills inflict (see ``catalogue``).

Typical use::

    from harness.corruption import get, prepare

    setup = prepare("wal-torn-tail", db, seed=7)   # leaves committed frames in the -wal
    damage = get("wal-torn-tail").apply(setup)     # deterministic for the seed
    damage.expected.lost_commits                   # 1
    with damage.hold():                            # transient kinds: the fault is active here
        ...                                        # run the engine
"""

from harness.corruption.catalogue import (
    BENIGN, CORRUPT, NOT_A_DATABASE, RUNBOOKS, SILENT, SNAPSHOT_RUNBOOK, SYMPTOMS, TRANSIENT, Damage,
    DamageSetup, Expected, Kind, ProcessFault, Unsupported, apply, get, ids, kinds, missing_needs, prepare,
)

__all__ = [
    "BENIGN", "CORRUPT", "NOT_A_DATABASE", "RUNBOOKS", "SILENT", "SNAPSHOT_RUNBOOK", "SYMPTOMS", "TRANSIENT",
    "Damage", "DamageSetup", "Expected", "Kind", "ProcessFault", "Unsupported", "apply", "get", "ids", "kinds",
    "missing_needs", "prepare",
]
