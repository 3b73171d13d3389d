"""The catalogue of damage and faults: every kind the corruption drills can inflict.

A ``Kind`` has a stable id, a one-line description, the symptom class SQLite shows for it,
the runbook that explains it, what the starting state needs, what ``PRAGMA quick_check`` on
a fresh connection reported for it on the SQLite this was measured with (3.40.1; the tests
re-measure it), and ``apply(setup) -> Damage``: deterministic for a seed, and cheaper than
copying the file it damages (it seeks and writes; it never reads a whole large file).

Symptom classes (what a fresh connection's ``quick_check`` or first read shows):

``not-a-database``
    SQLITE_NOTADB ("file is not a database"): nothing of the file is readable.
``corrupt``
    quick_check raises (SQLITE_CORRUPT, or for ``header-schema-format`` SQLITE_ERROR
    "unsupported file format") or returns rows other than ``ok``.
``silent``
    quick_check passes, yet the content is not what was committed: changed values, rows
    missing from an index (only integrity_check sees those), a foreign-key orphan (only
    foreign_key_check), committed transactions dropped from a WAL, a database replaced by
    an empty one. Only comparing content with what is known to be there catches these.
``transient``
    the file is fine; the engine's process cannot use it right now (busy, read-only, full,
    cannot open, an I/O error). Never a reason to quarantine. ``Damage.hold()`` keeps the
    fault active while the engine runs, or ``Damage.process`` says how to impose it on the
    engine's process.
``benign``
    SQLite copes by itself (rolls a hot journal back, ignores appended bytes, rebuilds a
    stale ``-shm``): content intact, nothing to do.

Setting up: ``prepare(kind, db, seed=...)`` brings a healthy database into the starting
state a kind ``needs`` (committed frames left in the ``-wal``, a hot rollback journal,
snapshots, another database's WAL, free pages at the end) and returns the ``DamageSetup``.
Capture the "before" content after ``prepare``: it may commit to the database.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NOT_A_DATABASE = "not-a-database"
CORRUPT = "corrupt"
SILENT = "silent"
TRANSIENT = "transient"
BENIGN = "benign"
SYMPTOMS = (NOT_A_DATABASE, CORRUPT, SILENT, TRANSIENT, BENIGN)

RUNBOOKS = {
    NOT_A_DATABASE: "drill-not-a-database",
    CORRUPT: "drill-corrupt",
    SILENT: "drill-silent",
    TRANSIENT: "drill-transient",
    BENIGN: "drill-benign",
}
SNAPSHOT_RUNBOOK = "drill-snapshot"

# What the starting state must have (``Kind.needs``). ``prepare`` can make the first group.
NEED_WAL = "wal"  # committed transactions still in the -wal (not checkpointed)
NEED_JOURNAL = "journal"  # a hot rollback journal: a writer killed after a cache spill
NEED_OTHER = "other-database"  # another database (same page size) with committed WAL frames
NEED_SNAPSHOT = "snapshot"  # at least one snapshot of the database
NEED_SNAPSHOTS_2 = "snapshots-2"  # at least two: one to damage, one to restore
NEED_FREELIST = "freelist"  # free pages
NEED_FREE_TAIL = "free-tail"  # the last page is a freelist leaf
# ... the schema has to provide these (prepare cannot add them without changing the schema)
NEED_OVERFLOW = "overflow"  # a row whose payload spills onto overflow pages
NEED_INDEX = "index"  # a rowid table with an index on a plain column
NEED_UNINDEXED = "unindexed-column"  # a rowid table with a column no index covers
NEED_INTERIOR = "interior"  # a table b-tree with more than one level
NEED_FK = "foreign-key"  # a single-column foreign key
# ... and the environment
NEED_STRACE = "strace"  # strace with ptrace allowed: faults in the engine's system calls
NEED_IMMUTABLE = "immutable-attr"  # chattr +i works here (root), or chmod does (not root)
PREPARABLE = frozenset({NEED_WAL, NEED_JOURNAL, NEED_OTHER, NEED_SNAPSHOT, NEED_SNAPSHOTS_2,
                        NEED_FREELIST, NEED_FREE_TAIL})

_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class Unsupported(Exception):
    """The starting state lacks what the kind needs, or this machine cannot produce it."""


@dataclass(frozen=True)
class DamageSetup:
    """The files a kind may damage: the database, its data directory, the snapshots the
    engine made (newest first; discovered in ``data_dir/backups`` when not given), and,
    for ``wal-foreign``, another database whose ``-wal`` holds committed frames."""

    db: Path
    seed: int = 0
    data_dir: Path | None = None
    snapshots: tuple[Path, ...] | None = None
    other: Path | None = None
    backups_dirname: str = "backups"

    def __post_init__(self) -> None:
        object.__setattr__(self, "db", Path(self.db))
        if self.data_dir is None:
            object.__setattr__(self, "data_dir", self.db.parent)
        if self.snapshots is None:
            object.__setattr__(self, "snapshots", discover_snapshots(self.backups, self.db))
        else:
            object.__setattr__(self, "snapshots", tuple(Path(p) for p in self.snapshots))

    @property
    def rng(self) -> random.Random:
        """A new ``random.Random(seed)`` on every access (a frozen setup holds no state)."""
        return random.Random(self.seed)

    def random(self, salt: str) -> random.Random:
        return random.Random(f"{salt}/{self.seed}")

    @property
    def backups(self) -> Path:
        assert self.data_dir is not None
        return self.data_dir / self.backups_dirname

    def sidecar(self, suffix: str) -> Path:
        return self.db.with_name(self.db.name + suffix)

    @property
    def wal(self) -> Path:
        return self.sidecar("-wal")

    @property
    def shm(self) -> Path:
        return self.sidecar("-shm")

    @property
    def journal(self) -> Path:
        return self.sidecar("-journal")


def discover_snapshots(backups: Path, db: Path) -> tuple[Path, ...]:
    """Snapshots in ``backups``, newest first: every regular file not set aside, by
    modification time, then name (engines name snapshots so that names sort by age)."""
    if not backups.is_dir():
        return ()
    files = [p for p in backups.iterdir() if p.is_file() and not p.name.endswith(".invalid")
             and not p.name.endswith(("-wal", "-shm", "-journal"))]
    return tuple(sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True))


@dataclass(frozen=True)
class Expected:
    """What a judge needs to know about the state a damage leaves."""

    symptom: str
    content_changed_silently: bool = False  # SQLite shows different content without an error
    lost_commits: int = 0  # committed transactions the damage drops without an error
    integrity_check_fails: bool = False  # the full integrity_check reports it (quick_check may not)
    fk_violations: bool = False  # only foreign_key_check reports it
    transient_codes: frozenset[str] = frozenset()  # engine codes acceptable while the fault holds
    restore_from: Path | None = None  # snapshot kinds: what a correct engine restores (None: nothing)
    database_missing: bool = False  # the database file is gone (sidecars may remain)

    @property
    def quick_check_fails(self) -> bool:
        return self.symptom in (NOT_A_DATABASE, CORRUPT)

    @property
    def should_quarantine(self) -> bool:
        """A correct engine moves the database aside (and restores): corrupt, unreadable,
        or only sidecars left."""
        return self.symptom in (NOT_A_DATABASE, CORRUPT) or self.database_missing


@dataclass(frozen=True)
class ProcessFault:
    """A fault in the engine's process, not in its files: system calls on the database's
    files fail (``strace -e inject=...``).

    - Command engines: ``wrap(argv)`` runs the command under strace.
    - In-process engines: ``run(fn)`` calls ``fn`` in a forked child that strace attaches to
      before it starts; the result (or exception) comes back pickled.
    Both need strace and ptrace (``available()``).
    """

    description: str
    syscalls: tuple[str, ...]  # traced (and injected into)
    inject: tuple[str, ...]  # strace ``-e inject=`` expressions
    paths: tuple[Path, ...]  # calls on these files only (``-P``)

    def available(self) -> str:
        """'' when strace can inject here, else why not."""
        from harness.tracing.strace import strace_reason

        return strace_reason()

    def wrap(self, argv: list[str] | tuple[str, ...]) -> list[str]:
        from harness.corruption.faults import strace_argv_for

        return strace_argv_for(self, list(argv))

    def run(self, fn: Callable[[], Any], *, timeout: float = 120.0) -> Any:
        from harness.corruption.faults import run_with_fault

        return run_with_fault(self, fn, timeout=timeout)


@dataclass(frozen=True)
class Damage:
    """What one ``apply`` did, and what the judge should expect."""

    kind: str
    seed: int
    summary: str  # human text: pages, offsets, variants
    expected: Expected
    changed: tuple[Path, ...] = ()
    created: tuple[Path, ...] = ()
    deleted: tuple[Path, ...] = ()
    process: ProcessFault | None = None
    holder: Callable[[], AbstractContextManager[None]] | None = field(default=None, compare=False, repr=False)

    def hold(self) -> AbstractContextManager[None]:
        """Keeps a transient fault active inside the ``with`` block (a lock held by a helper
        process, an immutable flag, a directory in the database's place) and undoes it
        after. A no-op for damage that is in the files."""
        return self.holder() if self.holder is not None else nullcontext()

    def describe(self) -> str:
        return f"{self.kind} (seed {self.seed}): {self.summary}"


@dataclass(frozen=True)
class Done:
    """What a kind's function returns; ``Kind.apply`` completes it into a ``Damage``."""

    summary: str
    changed: tuple[Path, ...] = ()
    created: tuple[Path, ...] = ()
    deleted: tuple[Path, ...] = ()
    expected: dict[str, Any] = field(default_factory=dict)
    process: ProcessFault | None = None
    holder: Callable[[], AbstractContextManager[None]] | None = None


Maker = Callable[[DamageSetup, random.Random], Done]


@dataclass(frozen=True)
class Kind:
    id: str
    description: str
    symptom: str
    runbook: str
    needs: frozenset[str]
    # what SQLite 3.40.1 reported, measured by the tests: quick_check on a fresh connection
    # ("SQLITE_NOTADB", "SQLITE_CORRUPT", "rows" for non-ok rows, "ok"); for transient kinds
    # the probe named in the description, while the fault holds ("SQLITE_BUSY", ...)
    reports: tuple[str, ...]
    area: str
    seeded: bool  # different seeds give different damage
    make: Maker = field(repr=False, compare=False)

    def apply(self, setup: DamageSetup) -> Damage:
        """Damage ``setup``'s files in place. Deterministic for ``setup.seed``."""
        done = self.make(setup, random.Random(f"{self.id}/{setup.seed}"))
        return Damage(self.id, setup.seed, done.summary, Expected(self.symptom, **done.expected),
                      done.changed, done.created, done.deleted, done.process, done.holder)


_REGISTRY: dict[str, Kind] = {}


def kind(id: str, *, symptom: str, description: str, reports: tuple[str, ...], needs: tuple[str, ...] = (),
         runbook: str | None = None, seeded: bool = True) -> Callable[[Maker], Maker]:
    """Register the decorated function as kind ``id``."""
    if not _ID.match(id):
        raise ValueError(f"kind id {id!r} is not lower-case-hyphenated")
    if symptom not in SYMPTOMS:
        raise ValueError(f"kind {id}: unknown symptom {symptom!r}")

    def register(fn: Maker) -> Maker:
        if id in _REGISTRY:
            raise ValueError(f"kind {id} registered twice")
        area = fn.__module__.rsplit(".", 1)[-1]
        _REGISTRY[id] = Kind(id, description, symptom, runbook or RUNBOOKS[symptom], frozenset(needs),
                             reports, area, seeded, fn)
        return fn

    return register


_AREAS = ("header", "truncation", "pages_damage", "wal", "journal", "faults", "snapshots")


def _load() -> None:
    """Import the area modules (importing one registers its kinds), in catalogue order."""
    import importlib

    for area in _AREAS:
        importlib.import_module(f"harness.corruption.{area}")


def kinds() -> tuple[Kind, ...]:
    """Every kind, in a stable order (by area, then as declared)."""
    _load()
    return tuple(_REGISTRY.values())


def get(kind_id: str) -> Kind:
    _load()
    try:
        return _REGISTRY[kind_id]
    except KeyError:
        raise KeyError(f"no corruption kind {kind_id!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def ids() -> tuple[str, ...]:
    return tuple(k.id for k in kinds())


def apply(kind_id: str, setup: DamageSetup) -> Damage:
    return get(kind_id).apply(setup)


# ------------------------------------------------------------------------------------------
# Starting states
# ------------------------------------------------------------------------------------------


def missing_needs(k: Kind, setup: DamageSetup) -> list[str]:
    """The needs of ``k`` that ``setup`` does not meet (cheap checks; schema needs are
    checked by looking for a candidate, as the kind itself would)."""
    from harness.corruption import needs as checks

    return [n for n in sorted(k.needs) if not checks.met(n, setup)]


def prepare(k: Kind | str, db: Path, *, seed: int = 0, workdir: Path | None = None, commits: int = 3,
            snapshots: tuple[Path, ...] | None = None, other: Path | None = None) -> DamageSetup:
    """Bring ``db`` into the starting state ``k`` needs, and return its ``DamageSetup``.

    Makes what can be made (committed WAL frames, a hot journal, snapshots, another
    database, free pages); raises ``Unsupported`` for what the schema or the machine must
    provide. ``workdir`` (default: ``db``'s directory) receives the other database.
    """
    from harness.corruption import needs as checks

    k = get(k) if isinstance(k, str) else k
    db = Path(db)
    setup = DamageSetup(db, seed, snapshots=snapshots, other=other)
    for need in sorted(k.needs, key=_order):
        if checks.met(need, setup):
            continue
        setup = checks.make(need, setup, workdir=workdir or db.parent, commits=commits)
        if not checks.met(need, setup):
            raise Unsupported(f"{k.id}: could not give {db.name} what '{need}' needs")
    return setup


_PREPARE_ORDER = (NEED_FREELIST, NEED_FREE_TAIL, NEED_SNAPSHOT, NEED_SNAPSHOTS_2, NEED_OTHER, NEED_JOURNAL, NEED_WAL)


def _order(need: str) -> int:
    # snapshots and the other database first (copies of a clean file), then the journal or
    # the WAL (the last thing that happens to the database before the damage)
    return _PREPARE_ORDER.index(need) if need in _PREPARE_ORDER else -1


# ------------------------------------------------------------------------------------------
# Byte edits shared by the kinds: in place, seek and write, nothing else read
# ------------------------------------------------------------------------------------------


def read_at(path: Path, offset: int, size: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read(size)


def write_at(path: Path, offset: int, data: bytes) -> bytes:
    """Overwrite ``data`` at ``offset``; returns the bytes that were there."""
    with open(path, "r+b") as handle:
        handle.seek(offset)
        old = handle.read(len(data))
        handle.seek(offset)
        handle.write(data)
    return old


def xor_at(path: Path, offset: int, mask: int) -> tuple[int, int]:
    """XOR one byte with ``mask`` (non-zero); returns (old, new)."""
    assert 0 < mask < 256
    old = read_at(path, offset, 1)[0]
    write_at(path, offset, bytes([old ^ mask]))
    return old, old ^ mask


def require_checkpointed(setup: DamageSetup) -> None:
    """Damage to the main file is only what SQLite sees if no -wal frame overrides it."""
    wal = setup.wal
    if wal.is_file() and wal.stat().st_size > 0:
        raise Unsupported(f"{wal.name} holds frames: checkpoint (close every connection) before damaging "
                          f"{setup.db.name} itself, or a newer copy of the page in the WAL hides the damage")
    if not setup.db.is_file():
        raise Unsupported(f"{setup.db} is not a file")


__all__ = [
    "BENIGN", "CORRUPT", "NOT_A_DATABASE", "SILENT", "SYMPTOMS", "TRANSIENT", "Damage", "DamageSetup", "Done",
    "Expected", "Kind", "ProcessFault", "Unsupported", "apply", "get", "ids", "kind", "kinds", "missing_needs",
    "prepare",
]
