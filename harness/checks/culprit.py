"""Naming the migration that did it: the root-cause key of a matrix failure.

An upgrade that fails is located by the engine's own words when they name a migration file
(``0021_notes.sql line 4: NOT NULL constraint failed: …``), else by applying the pending
migrations one at a time on a copy until one fails. The mechanism is the error without its
location, so the same bug on twenty fixtures is one key.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from harness.checks.context import CaseContext
from harness.checks.verdict import Cause
from harness.engines.protocol import CODE_UNSPECIFIED, Migration, Outcome

GENERIC_CODES = frozenset({CODE_UNSPECIFIED, "migration_failed"})  # say nothing the message does not


def migration_label(migration: Migration) -> str:
    """How a report names a migration: its file when the engine has one, else version_name."""
    return migration.source or f"{migration.version}_{migration.name}"


def _basename(migration: Migration) -> str | None:
    return PurePosixPath(migration.source).name if migration.source else None


def _located(message: str, migrations: tuple[Migration, ...]) -> tuple[Migration, int | None, str] | None:
    """The migration a failure message names, the line it gives and the message after them."""
    for migration in migrations:
        name = _basename(migration)
        if not name or name not in message:
            continue
        found = re.search(re.escape(name) + r"(?: line (\d+))?:\s*", message)
        if found is None:
            continue
        rest = message[found.end():].strip() or message
        return migration, int(found.group(1)) if found.group(1) else None, rest
    return None


def _mechanism(outcome: Outcome, text: str, workdir: Path) -> str:
    text = text.replace(str(workdir), "").strip()
    code = outcome.error_code
    return f"upgrade fails ({code}): {text}" if code and code not in GENERIC_CODES else f"upgrade fails: {text}"


def upgrade_cause(ctx: CaseContext, copy: Path, start: int, failure: Outcome) -> Cause:
    """The cause of ``failure`` (an upgrade of the case's start to head): which migration, at
    which line, failing how. ``copy`` is a fresh copy of the start to step on if need be."""
    migrations = ctx.migrations()
    pending = tuple(m for m in migrations if m.version > start)
    named = _located(failure.message, pending) or _located(failure.message, migrations)
    if named:
        migration, line, rest = named
        return Cause(_mechanism(failure, rest, ctx.workdir), migration_label(migration), line)
    for migration in pending:
        step = ctx.engine.migrate(copy, migration.version)
        if not step.ok:
            named = _located(step.message, (migration,))
            line, rest = (named[1], named[2]) if named else (None, step.message or step.describe())
            return Cause(_mechanism(step, rest, ctx.workdir), migration_label(migration), line)
    return Cause(_mechanism(failure, failure.message or failure.describe(), ctx.workdir)
                 + " (one run fails; one migration at a time does not)")
