"""`harness fixtures build / verify / capture`: reproducible, strict, and read-only on inputs."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from gate_helpers import ROOT


def harness(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_committed_fixtures_equal_a_rebuild(tmp_path: Path) -> None:
    out = tmp_path / "rebuilt"
    run = harness("fixtures", "build", "--recipe", "fixtures/recipe.toml", "--out", str(out))
    assert run.returncode == 0, run.stderr
    for built in sorted(out.iterdir()):
        committed = ROOT / "fixtures" / built.name
        assert committed.read_bytes() == built.read_bytes(), f"{built.name} differs: run `harness fixtures build`"


def test_verify_passes_on_the_repository_and_fails_on_a_tampered_manifest(tmp_path: Path) -> None:
    ok = harness("fixtures", "verify")
    count = (ROOT / "fixtures" / "manifest.toml").read_text().count("[[fixture]]")
    assert ok.returncode == 0 and f"{count} of {count} fixtures match" in ok.stdout, ok.stdout + ok.stderr
    copy = tmp_path / "fixtures"
    shutil.copytree(ROOT / "fixtures", copy)
    manifest = copy / "manifest.toml"
    text = manifest.read_text()
    manifest.write_text(text.replace("talk_projects = 40", "talk_projects = 41", 1))
    bad = harness("fixtures", "verify", "--manifest", str(manifest))
    assert bad.returncode == 1
    assert "table talk_projects has 40 rows, manifest says 41" in bad.stdout
    (copy / "v2-outline-and-settings.sql").write_text("-- edited\n" + (copy / "v2-outline-and-settings.sql").read_text())
    edited = harness("fixtures", "verify", "--manifest", str(manifest))
    assert "v2-outline-and-settings.sql has sha256" in edited.stdout


def test_capture_is_read_only_and_yields_a_verifiable_fixture(tmp_path: Path) -> None:
    db = tmp_path / "user.sqlite3"
    conn = sqlite3.connect(db)
    conn.executescript(
        "PRAGMA journal_mode=WAL; CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);"
        "INSERT INTO notes(body) VALUES ('hello'), ('wörld'), (NULL);")
    conn.commit()
    conn.execute("INSERT INTO notes(body) VALUES ('still in the wal')")
    conn.commit()  # left in the -wal: the connection stays open, so no checkpoint
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
    manifest = tmp_path / "fx" / "manifest.toml"
    manifest.parent.mkdir()
    manifest.write_text("")
    run = harness("fixtures", "capture", str(db), "--version", "3", "--name", "user-notes",
                  "--manifest", str(manifest))
    assert run.returncode == 0, run.stderr
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir() if p.is_file()}
    assert after == files, "capture modified the user's database"
    conn.close()
    text = (manifest.parent / "user-notes.sql").read_text()
    assert "still in the wal" in text and "wörld" in text
    assert 'name = "user-notes"' in manifest.read_text() and "notes = 4" in manifest.read_text()
    verified = harness("fixtures", "verify", "--manifest", str(manifest))
    assert verified.returncode == 0, verified.stdout
    again = harness("fixtures", "capture", str(db), "--version", "3", "--name", "user-notes",
                    "--manifest", str(manifest))
    assert again.returncode == 2 and "already has a fixture named 'user-notes'" in again.stderr
