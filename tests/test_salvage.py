"""The salvage report: what .recover could give back, or exactly why it cannot run here."""

from __future__ import annotations

import sqlite3
import stat
import sys
from pathlib import Path

from harness.sqlite import salvage


def make_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"
                       "INSERT INTO notes (body) VALUES ('a'), ('b'), ('c');")
    conn.commit()
    conn.close()
    return path


def test_this_machines_cli_is_detected_honestly(tmp_path: Path) -> None:
    path, reason = salvage.support()
    report = salvage.salvage(make_db(tmp_path / "x.db"))
    if path is None:  # e.g. Debian's 3.40 CLI: no sqlite_dbpage
        assert not report.available and report.reason == reason and reason
        assert report.describe().startswith("salvage unavailable: ")
    else:
        assert report.available and report.rows["notes"] == 3


def fake_cli(tmp_path: Path, supports_dbpage: bool) -> str:
    """A stand-in for a sqlite3 CLI built with sqlite_dbpage: `.recover` prints SQL that
    rebuilds the readable rows (here: a dump), as the real tool does."""
    script = tmp_path / ("sqlite3-dbpage" if supports_dbpage else "sqlite3-plain")
    script.write_text(
        f"#!{sys.executable}\n"
        "import sqlite3, sys\n"
        "db, command = sys.argv[1], sys.argv[2]\n"
        f"if 'sqlite_dbpage' in command and not {supports_dbpage}:\n"
        "    print('Parse error: no such table: sqlite_dbpage', file=sys.stderr); sys.exit(1)\n"
        "if command == '.recover':\n"
        "    conn = sqlite3.connect(db)\n"
        "    print('\\n'.join(conn.iterdump()))\n"
        "    print('CREATE TABLE lost_and_found(rootpgno, pgno, nfield, id, c0);')\n"
        "else:\n"
        "    print(0)\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_recover_rows_are_counted_per_table_on_a_copy(tmp_path: Path) -> None:
    db = make_db(tmp_path / "quarantined.db")
    before = db.read_bytes()
    report = salvage.salvage(db, fake_cli(tmp_path, True))
    assert report.available and report.rows == {"notes": 3, "lost_and_found": 0}
    assert "notes 3" in report.describe()
    assert db.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".db") == [
        "quarantined.db"]


def test_a_cli_without_dbpage_is_reported_not_guessed(tmp_path: Path) -> None:
    report = salvage.salvage(make_db(tmp_path / "q.db"), fake_cli(tmp_path, False))
    assert not report.available and "sqlite_dbpage" in report.reason
