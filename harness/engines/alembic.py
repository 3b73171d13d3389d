"""The alembic adapter: an alembic project gated through alembic's own API, no glue.

``adapter = "alembic"`` (``alembic_config``, default ``alembic.ini`` beside the scenario).
Migrating runs ``alembic.command.upgrade`` with a ``Config`` read from that file and its
``sqlalchemy.url`` set to the case's database (``sqlite:///<db>``), so the project's own
``env.py`` and revision scripts run exactly as ``alembic upgrade`` runs them, with whatever
transaction handling they configure (alembic's SQLite default: a transaction per migration
in which pysqlite lets DDL autocommit).

Versions: alembic revision ids, in the order of the script directory (``down_revision``
links, base first). The harness numbers them 1..N in that order: version N is the N-th
revision. A directory with several heads is refused (merge them with ``alembic merge``).
History: ``alembic_version``, one row naming the current revision (a cumulative history,
like golang-migrate's), read as a ``RevisionHistory`` (harness.engines.formats.history) with this order.

Revision scripts are Python, so the harness cannot read them as SQL: it runs them, and for
data preservation reads each revision's declared changes from alembic's offline output
(``alembic upgrade A:B --sql``) where alembic can render it (a ``batch_alter_table`` that
needs to reflect the live table cannot be rendered offline: that revision is judged by
content alone).

Migrations run in this process through the standard library's sqlite3 (SQLAlchemy's
pysqlite driver), so they are killed and interrupted at chosen points like any in-process
engine (``InProcessFaults``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from harness.engines.faults import InProcessFaults
from harness.engines.protocol import (
    CODE_UNSPECIFIED, OP_CRASH, OP_DIAGNOSTICS, OP_MIGRATE, OP_OPEN, OP_POSTURE, Diagnostics, Migration, Outcome,
)
from harness.errors import InputError
from harness.engines.formats import read_history
from harness.engines.formats.history import Layout, RevisionHistory

CODE_FAILED = "migration_failed"
CODE_UNKNOWN = "migration_unknown_version"
HISTORY_TABLE = "alembic_version"


def _alembic() -> Any:
    try:
        import alembic.command  # noqa: F401
        import alembic.config  # noqa: F401
        import alembic.script  # noqa: F401
    except ImportError as exc:
        raise InputError("engine.adapter", f"adapter 'alembic' needs alembic installed here "
                                           f"(pip install alembic): {exc}") from None
    import alembic

    return alembic


class AlembicEngine(InProcessFaults):
    """An alembic project: revisions run by alembic, history read from ``alembic_version``."""

    operations = frozenset({OP_MIGRATE, OP_DIAGNOSTICS, OP_CRASH})
    emulated = False
    wraps = False  # alembic decides per revision; lint cannot follow Python

    def __init__(self, config: Path, *, sys_path: Sequence[Path] = ()) -> None:
        self._alembic = _alembic()
        self.config_path = config.resolve()
        self.name = self.config_path.parent.name or "alembic"
        self._sys_path = tuple(str(p) for p in sys_path)
        try:
            script = self._alembic.script.ScriptDirectory.from_config(self._config(None))
            heads = script.get_heads()
            revisions = list(script.walk_revisions("base", "heads"))
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever alembic raises, the project is unusable
            raise InputError(self.config_path, f"alembic cannot read the script directory: "
                                               f"{type(exc).__name__}: {exc}") from None
        if len(heads) > 1:
            raise InputError(self.config_path, f"the revisions have {len(heads)} heads ({', '.join(sorted(heads))}): "
                                               "merge them (alembic merge) to gate one upgrade path")
        revisions.reverse()
        self.revisions: tuple[str, ...] = tuple(r.revision for r in revisions)
        self.history_format = RevisionHistory(Layout(HISTORY_TABLE, "version_num", kind="text", cumulative=True),
                                              self.revisions)
        base = self.config_path.parent
        self._migrations = tuple(
            Migration(i + 1, _name(r), _checksum(Path(r.path)), None, _relative(Path(r.path), base), key=r.revision)
            for i, r in enumerate(revisions))
        self._with_sql: tuple[Migration, ...] | None = None
        self.notes: tuple[str, ...] = ()

    # --- the Engine protocol -------------------------------------------------------------

    def migrations(self) -> Sequence[Migration]:
        """The revisions in order, each with the SQL alembic renders offline for it (or None)."""
        if self._with_sql is None:
            rendered, notes = [], []
            previous: str | None = None
            for migration, revision in zip(self._migrations, self.revisions):
                sql, problem = self._offline(previous, revision)
                if problem:
                    notes.append(f"{migration.source}: alembic cannot render it offline ({problem}); "
                                 "its data changes are judged by content alone")
                rendered.append(Migration(migration.version, migration.name, migration.checksum, sql,
                                          migration.source, key=migration.key))
                previous = revision
            self._with_sql = tuple(rendered)
            self.notes = tuple(notes)
        return self._with_sql

    def migrate(self, db: Path, target: int | None = None) -> Outcome:
        start = time.perf_counter()
        if target is not None and not 1 <= target <= len(self.revisions):
            return Outcome(OP_MIGRATE, ok=False, error_code=CODE_UNKNOWN, seconds=time.perf_counter() - start,
                           message=f"no revision number {target} (there are {len(self.revisions)})")
        revision = "heads" if target is None else self.revisions[target - 1]
        try:
            with self._quiet():
                self._alembic.command.upgrade(self._config(db), revision)
        except Exception as exc:  # noqa: BLE001 - the engine's failure is an outcome, never raised
            code = CODE_UNKNOWN if "Can't locate revision" in str(exc) else CODE_FAILED
            return Outcome(OP_MIGRATE, ok=False, error_code=code, seconds=time.perf_counter() - start,
                           message=f"{type(exc).__name__}: {exc}"[:2000])
        return Outcome(OP_MIGRATE, ok=True, seconds=time.perf_counter() - start, message=f"upgraded to {revision}")

    def open(self, db: Path) -> Outcome:
        return Outcome(OP_OPEN, ok=False, error_code=CODE_UNSPECIFIED, message="alembic has no open operation")

    def posture(self, db: Path) -> Outcome:
        return Outcome(OP_POSTURE, ok=False, error_code=CODE_UNSPECIFIED, message="alembic has no posture operation")

    def diagnostics(self, db: Path) -> Diagnostics | Outcome:
        """What ``alembic current`` would say, read by the harness from the file."""
        try:
            conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
            try:
                found = read_history(conn, self.history_format)
                integrity = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
                violations = len(conn.execute("PRAGMA foreign_key_check").fetchall())
            finally:
                conn.close()
        except sqlite3.Error as exc:
            return Outcome(OP_DIAGNOSTICS, ok=False, error_code=CODE_UNSPECIFIED, message=f"cannot read {db.name}: {exc}")
        at = max(found.versions, default=0)
        unknown = [r for r in found.rows if r.version == 0]
        return Diagnostics(schema_version=at or None, applied_migrations=at, expected_migrations=len(self.revisions),
                           continuity=CODE_UNKNOWN if unknown else "ok", integrity=integrity,
                           foreign_key_violations=violations)

    # --- alembic -------------------------------------------------------------------------

    def _config(self, db: Path | None, output: io.StringIO | None = None) -> Any:
        """A ``Config`` from the project's file, pointed at ``db``; a relative script_location
        is the ini file's directory's, whatever the current directory is."""
        config = self._alembic.config.Config(str(self.config_path), output_buffer=output)
        location = config.get_main_option("script_location")
        if location and ":" not in location and not Path(location).is_absolute():
            config.set_main_option("script_location", str(self.config_path.parent / location))
        if db is not None:
            config.set_main_option("sqlalchemy.url", f"sqlite:///{db.resolve()}")
        config.attributes["harness"] = True
        return config

    def _offline(self, previous: str | None, revision: str) -> tuple[str | None, str]:
        buffer = io.StringIO()
        span = f"{previous}:{revision}" if previous else revision
        try:
            with self._quiet():
                self._alembic.command.upgrade(self._config(Path("offline.sqlite3"), buffer), span, sql=True)
        except Exception as exc:  # noqa: BLE001 - offline rendering is optional; say why it is missing
            return None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
        return _without_history(buffer.getvalue()), ""

    @contextlib.contextmanager
    def _quiet(self) -> Iterator[None]:
        """The project's sys.path entries in front; alembic's INFO lines and print()s kept out of
        the harness's output (env.py usually configures logging from the ini file)."""
        added = [p for p in self._sys_path if p not in sys.path]
        sys.path[:0] = added
        level = logging.root.manager.disable
        logging.disable(logging.INFO)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                yield
        finally:
            logging.disable(level)
            for entry in added:
                if entry in sys.path:
                    sys.path.remove(entry)


def _without_history(sql: str) -> str:
    """The revision's own statements: alembic's bookkeeping on ``alembic_version`` (created,
    inserted, updated) is the history, not the application's schema or data."""
    kept = [chunk for chunk in sql.split(";\n") if HISTORY_TABLE not in chunk]
    return ";\n".join(kept)


def _name(revision: Any) -> str:
    doc = (revision.doc or "").strip().splitlines()
    return doc[0] if doc else Path(revision.path).stem


def _checksum(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def _relative(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base).as_posix()
    except ValueError:
        return str(path)
