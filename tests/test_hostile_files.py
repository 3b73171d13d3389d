"""Every file of a migrations directory is run or named in a note saying why not (before, a
misnamed `.sql` file, other files and subdirectories were skipped without a word)."""

from __future__ import annotations

from pathlib import Path

from harness.engines.sqlfiles import SqlFilesEngine


def test_every_file_is_run_or_noted(tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    (folder / "nested").mkdir(parents=True)
    files = {
        "0001_init.sql": "CREATE TABLE a(x);\n",
        "0002-dash.sql": "CREATE TABLE b(x);\n",  # not the plain format's <integer>_<name>.sql
        "0003_upper.SQL": "CREATE TABLE c(x);\n",
        "0004_next.sql": "CREATE TABLE d(x);\n",
        "README.md": "how to migrate\n",
        ".gitkeep": "",
        "nested/0005_deep.sql": "CREATE TABLE e(x);\n",
    }
    for name, text in files.items():
        (folder / name).write_text(text)
    engine = SqlFilesEngine(folder, "plain")
    run = {Path(m.source or m.name).name for m in engine.migrations()}
    notes = " | ".join(engine.notes)
    assert run == {"0001_init.sql", "0004_next.sql"}
    for name in ("0002-dash.sql", "0003_upper.SQL", "README.md", ".gitkeep", "nested/"):
        assert name in notes, (name, notes)
    assert "does not match" in notes and "not searched" in notes
