"""harness.reporting.artifacts: a failing case's files kept beside the reports, within a budget."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from harness.reporting import artifacts
from harness.reporting.results import CaseResult

CASE_ID = "recovery[fixture=v3-training-flag,snapshots=one-valid]::restores-newest-valid"


def make_case(**overrides) -> CaseResult:
    values = dict(
        case_id=CASE_ID, suite="app", family="recovery", check="restores-newest-valid",
        params={"fixture": "v3-training-flag", "snapshots": "one-valid"}, outcome="failed", status="fail",
        severity="error", summary="app.sqlite3 is gone", runbook="recovery-restore",
        runbook_url="runbooks/recovery-restore.md", scenario="scenarios/app.toml", line=12, seed=7,
        repro="harness repro x --seed 7", measured="3 problems", threshold="0",
        details="- table notes: 12 rows\n+ table notes: 9 rows\n<script>\x1b[31m\x07",
        observations={"workdir": "/somewhere", "files_before": {"app.sqlite3": "abc"}},
    )
    values.update(overrides)
    return CaseResult(**values)


def write(path: Path, size: int, fill: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((fill * size)[:size])
    return path


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    work = tmp_path / "work" / "case"
    write(work / "data" / "app.sqlite3", 40_000, b"D")
    write(work / "data" / "app.sqlite3-wal", 30_000, b"W")
    write(work / "data" / "app.sqlite3-shm", 3_000, b"S")
    write(work / "data" / "corrupted" / "app-1" / "app.sqlite3", 20_000, b"Q")
    write(work / "data" / "backups" / "app-v3.sqlite3", 10_000, b"B")
    secret = write(tmp_path / "secret.txt", 10, b"P")
    os.symlink(secret, work / "data" / "link-to-secret")
    os.symlink(tmp_path, work / "data" / "link-to-dir")
    return work


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest_rows(path: Path) -> dict[str, tuple[str, int, str]]:
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(("kept ", "dropped ")):
            status, size, digest, relative = line.split("  ", 3)
            rows[relative] = (status, int(size), digest)
    return rows


def test_cap_respected_largest_dropped_first(workdir: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    cap = 40_000
    paths = artifacts.preserve(make_case(), workdir, reports, cap)
    target = reports / "artifacts" / artifacts.slug(CASE_ID)
    assert paths[0] == f"artifacts/{artifacts.slug(CASE_ID)}/MANIFEST.txt"
    assert all(not Path(p).is_absolute() and (reports / p).is_file() for p in paths)

    copied = [p for p in target.rglob("*") if p.is_file() and p.name != "MANIFEST.txt"]
    assert sum(p.stat().st_size for p in copied) <= cap
    kept = {p.relative_to(target).as_posix() for p in copied}
    # 40k db and 30k wal dropped (largest first); the rest fit
    assert kept == {"data/app.sqlite3-shm", "data/corrupted/app-1/app.sqlite3", "data/backups/app-v3.sqlite3",
                    "details.txt", "observations.json"}
    assert {f"artifacts/{artifacts.slug(CASE_ID)}/{k}" for k in kept} == set(paths[1:])
    for relative in kept - {"details.txt", "observations.json"}:
        assert (target / relative).read_bytes() == (workdir / relative).read_bytes()

    rows = manifest_rows(target / "MANIFEST.txt")
    assert rows["data/app.sqlite3"] == ("dropped", 40_000, sha256(workdir / "data" / "app.sqlite3"))
    assert rows["data/app.sqlite3-wal"] == ("dropped", 30_000, sha256(workdir / "data" / "app.sqlite3-wal"))
    assert rows["data/app.sqlite3-shm"] == ("kept", 3_000, sha256(target / "data" / "app.sqlite3-shm"))
    assert rows["details.txt"][0] == "kept" and rows["details.txt"][2] == sha256(target / "details.txt")


def test_symlinks_never_followed_or_copied(workdir: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    artifacts.preserve(make_case(), workdir, reports, 10_000_000)
    target = reports / "artifacts" / artifacts.slug(CASE_ID)
    assert not (target / "data" / "link-to-secret").exists() and not (target / "data" / "link-to-dir").exists()
    assert not any(p.is_symlink() for p in target.rglob("*"))
    assert not any(p.read_bytes() == b"P" * 10 for p in target.rglob("*") if p.is_file())
    manifest = (target / "MANIFEST.txt").read_text(encoding="utf-8")
    assert "skipped  data/link-to-secret (symbolic link, not copied)" in manifest
    assert "skipped  data/link-to-dir/ (symbolic link, not followed)" in manifest


def test_diff_written_as_sanitised_text(workdir: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    artifacts.preserve(make_case(), workdir, reports, 10_000_000)
    details = (reports / "artifacts" / artifacts.slug(CASE_ID) / "details.txt").read_text(encoding="utf-8")
    assert f"case: {CASE_ID}" in details and "measured: 3 problems  threshold: 0" in details
    assert "- table notes: 12 rows\n+ table notes: 9 rows" in details
    assert "\x1b" not in details and "\\x07" in details
    assert "reproduce: harness repro x --seed 7" in details


def test_zero_cap_keeps_only_the_manifest(workdir: Path, tmp_path: Path) -> None:
    paths = artifacts.preserve(make_case(), workdir, tmp_path / "reports", 0)
    assert paths == (f"artifacts/{artifacts.slug(CASE_ID)}/MANIFEST.txt",)
    rows = manifest_rows(tmp_path / "reports" / paths[0])
    assert rows and all(status == "dropped" for status, _, _ in rows.values())


def test_missing_workdir_still_keeps_the_text(tmp_path: Path) -> None:
    paths = artifacts.preserve(make_case(), tmp_path / "gone", tmp_path / "reports", 1_000_000)
    names = [Path(p).name for p in paths]
    assert names == ["MANIFEST.txt", "details.txt", "observations.json"]
    assert "is missing" in (tmp_path / "reports" / paths[0]).read_text(encoding="utf-8")


def test_preserving_again_replaces_the_directory(workdir: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    artifacts.preserve(make_case(), workdir, reports, 10_000_000)
    target = reports / "artifacts" / artifacts.slug(CASE_ID)
    assert (target / "data" / "app.sqlite3").is_file()
    artifacts.preserve(make_case(), workdir, reports, 5_000)
    assert not (target / "data" / "app.sqlite3").exists()


def test_workdir_file_names_do_not_clash_with_generated_ones(tmp_path: Path) -> None:
    work = tmp_path / "work"
    write(work / "MANIFEST.txt", 5, b"m")
    write(work / "details.txt", 5, b"d")
    paths = artifacts.preserve(make_case(), work, tmp_path / "reports", 1_000_000)
    target = tmp_path / "reports" / "artifacts" / artifacts.slug(CASE_ID)
    assert (target / "details.txt").read_bytes() == b"ddddd"
    assert (target / "_MANIFEST.txt").read_bytes() == b"mmmmm"
    assert (target / "_details.txt").read_text(encoding="utf-8").startswith("case: ")
    assert len(paths) == len(set(paths)) == 5


def test_slugs_are_safe_and_distinct() -> None:
    ids = [CASE_ID, CASE_ID.replace(",", ";"), "../../etc/passwd", "a" * 300, "<script>\x00"]
    slugs = [artifacts.slug(i) for i in ids]
    assert len(set(slugs)) == len(ids)
    assert all("/" not in s and not s.startswith(".") and len(s) <= 91 for s in slugs)
