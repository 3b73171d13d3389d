"""The benchmark's own parts (``bench/``): the synthetic project, the floor, the naive suite,
the ratios and targets, the results file and the command line.

Nothing here times anything: a benchmark whose generator, baselines or arithmetic are
wrong reports wrong numbers however fast the machine is.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import floor, naive, project, run  # noqa: E402
from gate_helpers import query  # noqa: E402

M, N, S = 6, 3, 64 * 1024


def _schema(db: Path) -> list[tuple]:
    return query(db, "SELECT type, name, sql FROM sqlite_schema WHERE name != 'schema_migrations' ORDER BY name")


def _count(db: Path, sql: str) -> int:
    return query(db, sql)[0][0]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[project.Generated]]:
    """A generated project: M migrations, N fixtures of S bytes (work dir, migrations, fixtures)."""
    work = tmp_path_factory.mktemp("bench-work")
    migrations = project.write_migrations(work / "projects" / f"m{M}" / "migrations", M)
    return work, migrations, project.generate(work, migrations, M, N, S)


# ------------------------------------------------------------------------------------------
# The synthetic project
# ------------------------------------------------------------------------------------------


def test_migrations_are_deterministic_and_cover_every_kind() -> None:
    texts = project.migration_texts(9)
    assert texts == project.migration_texts(9)
    assert [name.split("_")[0] for name, _ in texts] == [f"{v:04d}" for v in range(1, 10)]
    kinds = {name.split("_", 1)[1].rsplit("_", 1)[0] for name, _ in texts[1:]}
    assert kinds == set(project.KINDS)
    rebuild = next(sql for name, sql in texts if "_rebuild_" in name)
    assert "INSERT INTO events_new" in rebuild and "DROP TABLE events;" in rebuild
    with pytest.raises(ValueError):
        project.migration_texts(0)


def test_write_migrations_leaves_unchanged_files_and_removes_stale_ones(tmp_path: Path) -> None:
    directory = project.write_migrations(tmp_path / "m", 8)
    first = {p.name: p.stat().st_mtime_ns for p in directory.glob("*.sql")}
    project.write_migrations(directory, 8)
    assert {p.name: p.stat().st_mtime_ns for p in directory.glob("*.sql")} == first
    project.write_migrations(directory, 5)
    assert len(list(directory.glob("*.sql"))) == 5


def test_fixture_versions_spread_below_head() -> None:
    assert project.fixture_versions(3, 6) == [1, 2, 4]
    versions = project.fixture_versions(200, 100)
    assert len(versions) == 200 and min(versions) == 1 and max(versions) == 99
    assert project.fixture_versions(4, 2) == [1, 1, 1, 1]


def test_generated_fixtures_have_the_asked_count_size_and_version(tiny) -> None:
    work, migrations, fixtures = tiny
    assert [f.version for f in fixtures] == project.fixture_versions(N, M)
    for f in fixtures:
        assert S <= f.size <= S * 1.25, f
        assert _count(f.path, "SELECT max(version) FROM schema_migrations") == f.version
        assert _count(f.path, "SELECT count(*) FROM events") == f.rows["events"] > 0
        conn = sqlite3.connect(f.path)
        try:
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            conn.close()


def test_generation_is_deterministic_for_the_same_parameters(tiny, tmp_path: Path) -> None:
    _, _, fixtures = tiny
    migrations = project.write_migrations(tmp_path / "projects" / f"m{M}" / "migrations", M)
    again = project.generate(tmp_path, migrations, M, N, S)
    assert [f.sha256 for f in again] == [f.sha256 for f in fixtures]
    assert [f.rows for f in again] == [f.rows for f in fixtures]
    cached = project.generate(tmp_path, migrations, M, N, S)  # from the work directory's cache
    assert [f.seconds for f in cached] == [0.0] * N and [f.sha256 for f in cached] == [f.sha256 for f in fixtures]


def test_the_store_finds_each_database_where_the_bench_puts_it(tiny, tmp_path: Path) -> None:
    _, _, fixtures = tiny
    manifest = project.write_manifest(tmp_path / "fixtures", fixtures)
    placed = project.place_in_cache(manifest, fixtures, tmp_path / "cache")
    for f, path in zip(fixtures, placed):
        assert path == project.cache_path(manifest, f.name, tmp_path / "cache")
        assert path.read_bytes() == f.path.read_bytes()
        assert f.sha256 in (tmp_path / "fixtures" / f"{f.name}.sql").read_text()


# ------------------------------------------------------------------------------------------
# The floor and the naive suite do the work they claim
# ------------------------------------------------------------------------------------------


def test_the_floor_upgrades_each_fixture_to_the_fresh_schema_keeping_rows(tiny, tmp_path: Path) -> None:
    work, migrations, fixtures = tiny
    head = project._templates(work, migrations, M)[M]  # an empty database built to head by the harness
    loaded = floor.load_migrations(migrations)
    for i, f in enumerate(fixtures):
        scratch = tmp_path / str(i)
        scratch.mkdir()
        found = floor.check_one(f.path, loaded, scratch, keep=True)
        db = scratch / "app.sqlite3"
        assert found["ok"] and found["applied"] == M - f.version
        assert _schema(db) == _schema(head)
        assert _count(db, "SELECT count(*) FROM events") == f.rows["events"]
        assert _count(db, "SELECT count(*) FROM schema_migrations") == M
    result = floor.run(migrations, [f.path for f in fixtures], tmp_path)
    assert result["cases"] == result["sound"] == N
    assert result["migrations_applied"] == sum(M - f.version for f in fixtures)
    assert not list(tmp_path.glob("bench-floor-*")), "the floor leaves no copy behind"


def test_the_floor_counts_an_unsound_fixture(tiny, tmp_path: Path) -> None:
    _, migrations, fixtures = tiny
    broken = tmp_path / "orphan.sqlite3"
    shutil.copyfile(fixtures[0].path, broken)
    conn = sqlite3.connect(broken)
    conn.execute("INSERT INTO events (document_id, kind, at) VALUES (987654321, 'x', '2020-01-01')")
    conn.commit()
    conn.close()
    result = floor.run(migrations, [fixtures[1].path, broken], tmp_path)
    assert (result["cases"], result["sound"]) == (2, 1)


def _pytest(suite: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:harness", "-p", "no:cacheprovider",
                           "-p", "no:randomly", "-o", "addopts=", "--rootdir", str(suite.parent), "--basetemp",
                           str(tmp / "basetemp"), str(suite)], capture_output=True, text=True, timeout=120)


def test_the_naive_suite_passes_on_sound_fixtures_and_fails_on_a_broken_one(tiny, tmp_path: Path) -> None:
    _, migrations, fixtures = tiny
    broken = tmp_path / "broken.sqlite3"
    shutil.copyfile(fixtures[0].path, broken)  # version 1: the next migration alters documents
    conn = sqlite3.connect(broken)
    conn.execute("DROP TABLE documents")
    conn.commit()
    conn.close()
    suite = naive.write_suite(tmp_path / "naive", migrations, [f.path for f in fixtures] + [broken])
    ran = _pytest(suite, tmp_path)
    per_fixture = naive.TESTS_PER_FIXTURE
    assert f"{per_fixture * N} passed" in ran.stdout, ran.stdout[-2000:]
    assert f"{per_fixture} error" in ran.stdout or f"{per_fixture} failed" in ran.stdout, ran.stdout[-2000:]
    assert ran.returncode == 1


# ------------------------------------------------------------------------------------------
# Ratios, growth and the targets' verdicts on hand-made numbers
# ------------------------------------------------------------------------------------------


def test_ratio_and_exponent_arithmetic() -> None:
    assert run.ratio(3, 2) == 1.5
    assert run.ratio(1, 0) is None and run.ratio(None, 2) is None
    assert run.exponent(10, 1.0, 20, 2.0) == 1.0  # linear
    assert run.exponent(10, 1.0, 100, 100.0) == 2.0  # quadratic
    assert run.exponent(5, 2.0, 100, 2.0) == 0.0  # flat
    assert run.exponent(5, None, 100, 2.0) is None and run.exponent(5, 1.0, 5, 2.0) is None


def _point(n: int, m: int, s: int, axis: str, floor_s: float, in_case: float, *, matrix: float | None = None,
           parallel: float | None = None) -> dict:
    harness = {"one_case": {"seconds": 1.0 + floor_s / n, "cpu_seconds": 0.9, "cases": 1, "passed": 1},
               "matched_serial": {"seconds": 1.0 + in_case, "cpu_seconds": 1.0 + in_case, "in_case_seconds": in_case,
                                  "cases": n, "passed": n, "peak_rss_mb": 50.0}}
    if matrix is not None:
        harness["matrix_serial"] = {"seconds": 1.0 + matrix, "cpu_seconds": matrix, "in_case_seconds": matrix,
                                    "cases": 4 * n, "passed": 4 * n, "peak_rss_mb": 51.0}
    if parallel is not None:
        harness["matrix_parallel"] = {"seconds": parallel, "cpu_seconds": parallel, "in_case_seconds": matrix,
                                      "cases": 4 * n, "passed": 4 * n, "peak_rss_mb": 60.0,
                                      "others_cpu_seconds": 0.0}
    p = {"id": run.point_id(n, m, s), "axis": axis, "n": n, "m": m, "s": s, "harness": harness,
         "floor": {"seconds": floor_s, "cpu_seconds": floor_s, "sound": n, "first_case_seconds": floor_s / n,
                   "first_case_cpu_seconds": floor_s / n, "others_cpu_seconds": 0.0}}
    p["ratios"] = run.derive(p)
    return p


def test_derive_gives_the_ratios_of_a_point() -> None:
    p = _point(10, 5, run.MB, "base", 2.0, 2.4, matrix=8.0, parallel=5.0)
    r = p["ratios"]
    assert r["in_case_over_floor"] == 1.2
    assert r["harness_over_floor"] == 1.7  # (1.0 start-up + 2.4) / 2.0
    assert r["matrix_in_case_over_floor"] == 4.0
    assert r["matrix_parallel_speedup"] == 1.8  # 9.0 / 5.0
    assert r["harness_peak_rss_mb"] == 60.0
    assert r["all_passed"] is True and r["others_share"] == 0.0
    p["floor"]["sound"] = 9
    assert run.derive(p)["all_passed"] is False


def test_growth_exponents_along_each_axis() -> None:
    mb = run.MB
    points = [
        _point(10, 5, mb, "base", 1.0, 1.0, matrix=4.0),
        _point(40, 5, mb, "N", 4.0, 4.0, matrix=16.0),  # linear in N
        _point(10, 20, mb, "M", 4.0, 16.0, matrix=64.0),  # per case quadratic in M
        _point(5, 5, 10 * mb, "S", 5.0, 5.0, matrix=20.0),  # per case linear in S (half the fixtures)
    ]
    g = run.growth(points)
    assert g["N"]["exponent"]["harness_matched_in_case"] == 1.0
    assert g["N"]["exponent"]["floor"] == 1.0
    assert g["M"]["exponent"]["harness_matrix_in_case"] == 2.0
    assert g["M"]["exponent"]["floor"] == 1.0
    assert g["S"]["exponent"]["harness_matched_in_case"] == 1.0 and g["S"]["per_case"] is True
    big = _point(2, 5, 1024 * mb, "big", 204.8, 204.8)  # 0.1 s per case per MB, as at the base
    g = run.growth(points + [big])
    assert g["S"]["values"][-1] == 1024 * mb
    assert g["S"]["exponent"]["harness_matched_in_case"] == 1.0  # base -> 1 GB
    assert g["S"]["exponent"]["harness_matrix_in_case"] == 1.0  # base -> 10 MB, the last that has it


def test_targets_mark_misses_as_misses() -> None:
    mb = run.MB
    points = [_point(10, 5, mb, "base", 1.0, 1.0, matrix=4.0),
              _point(10, 5, 10 * mb, "S", 10.0, 15.0, matrix=40.0, parallel=30.0),
              _point(2, 5, 1024 * mb, "big", 100.0, 120.0)]
    points[-1]["harness"]["matrix_parallel"] = {"seconds": 300.0, "peak_rss_mb": 420.0, "cases": 8, "passed": 8}
    points[-1]["ratios"] = run.derive(points[-1])
    doc = {"points": points, "machine": {"parallel_ceiling": 1.9},
           "overhead": {"points": [{"id": "a"}, {"id": "b"}], "per_case_overhead_cpu_ms": 7.5,
                        "per_case_overhead_wall_ms": 8.0, "in_case_overhead_ms": 1.0, "floor_per_case_ms": 2.0},
           "cache": {"point": "c", "rebuilt_on_second_run": 2, "cached_files_after_cold": 5},
           "corruption": {"10M": {"database_bytes": 10 * mb, "max_ratio": 3.0, "worst_kind": "k",
                                  "over_copy": ["k"], "over_copy_by_1ms": ["k"], "max_ratio_vs_db_copy": 0.5,
                                  "over_db_copy": []}}}
    doc["growth"] = run.growth(points)
    t = run.targets(doc)
    assert set(t) == set(run.TARGETS)
    assert t["harness_over_floor_at_10MB"]["value"] == 1.5 and t["harness_over_floor_at_10MB"]["met"] is False
    assert t["matrix_over_floor_at_10MB"]["met"] is False
    assert t["per_case_overhead_ms"]["met"] is False
    assert t["parallel_speedup"]["value"] == round(41.0 / 30.0, 3) and t["parallel_speedup"]["met"] is False
    assert t["peak_rss_mb_at_1GB"]["value"] == 420.0 and t["peak_rss_mb_at_1GB"]["met"] is False
    assert t["cache_second_run_rebuilds"]["met"] is False
    assert t["corruption_over_copy"]["met"] is False
    assert t["linear_growth"]["value"] == 1.0 and t["linear_growth"]["met"] is True


def test_targets_not_measured_are_neither_met_nor_missed() -> None:
    t = run.targets({"points": [], "machine": {}})
    assert {v["met"] for v in t.values()} == {None}


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("harness_over_floor_at_10MB", 1.25, True), ("harness_over_floor_at_10MB", 1.2501, False),
    ("per_case_overhead_ms", 5.0, False), ("per_case_overhead_ms", 4.99, True),
    ("parallel_speedup", 1.7, True), ("parallel_speedup", 1.69, False),
    ("peak_rss_mb_at_1GB", 300.0, False), ("cache_second_run_rebuilds", 0, True),
    ("corruption_over_copy", 1.0, False), ("linear_growth", None, None),
])
def test_met_holds_each_value_against_its_limit(name: str, value: float | None, expected: bool | None) -> None:
    assert run.met(name, value) is expected


# ------------------------------------------------------------------------------------------
# The results file and the command line
# ------------------------------------------------------------------------------------------


def test_results_round_trip_and_render(tmp_path: Path) -> None:
    points = [_point(10, 5, run.MB, "base", 1.0, 1.1, matrix=4.0, parallel=3.0)]
    doc = {"points": points, "machine": {}, "growth": run.growth(points)}
    doc["targets"] = run.targets(doc)
    out = tmp_path / "r" / "latest.json"
    run.write(doc, out)
    assert json.loads(out.read_text()) == json.loads(json.dumps(doc))
    assert not list(out.parent.glob("*.tmp"))
    text = run.table(json.loads(out.read_text()))
    assert "n10-m5-s1M" in text and "MISSED" in text and "parallel_speedup" in text


def test_sizes_points_and_ids_parse() -> None:
    assert run.parse_size("64K") == 64 * 1024 and run.parse_size("1G") == run.GB
    assert run.parse_size("1.5M") == int(1.5 * run.MB)
    assert run.parse_point("10,5,10M") == (10, 5, 10 * run.MB)
    assert run.point_id(10, 5, 10 * run.MB) == "n10-m5-s10M"
    assert run.human(64 * 1024) == "64K" and run.human(run.GB) == "1G"
    assert run.parse_points("") == ()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize(("args", "message"), [
    (["--point", "x"], "not a point: 'x'"),
    (["--point", "10,1,1M"], "M >= 2"),
    (["--point", "10,5,12Q"], "not a size"),
    (["--axis", "Q"], "not axes"),
    (["--repeat", "0"], "not a positive integer"),
    (["--drill-kinds", "no-such-kind"], "unknown drill kinds"),
    (["--overhead", "10,5,64K"], "not an overhead pair"),
    (["--quick", "--point", "2,3,64K"], "--point measures exactly"),
    (["--redo", "cache"], "use it with --resume"),
])
def test_bad_input_exits_2_with_one_clear_line(args: list[str], message: str, tmp_path: Path) -> None:
    ran = _cli(*args, "--out", str(tmp_path / "o.json"), "--work", str(tmp_path / "w"), cwd=tmp_path)
    assert ran.returncode == 2
    assert message in ran.stderr and "Traceback" not in ran.stderr
    assert not (tmp_path / "w").exists() and not (tmp_path / "o.json").exists()


def test_resume_refuses_a_file_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "o.json").write_text("{not json")
    ran = _cli("--resume", "--out", str(tmp_path / "o.json"), "--work", str(tmp_path / "w"), cwd=tmp_path)
    assert ran.returncode == 2 and "cannot read" in ran.stderr and "Traceback" not in ran.stderr
    ran = _cli("--show", str(tmp_path / "o.json"), cwd=tmp_path)
    assert ran.returncode == 2 and "Traceback" not in ran.stderr


def test_one_point_end_to_end_through_the_harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A real ``harness gate`` on a generated point: the cached databases are found (the stub
    SQL would fail if executed), every case passes, and the results file holds the ratios."""
    monkeypatch.setattr(run.measure, "parallel_ceiling", lambda: None)  # seconds of spinning, not under test
    out = tmp_path / "results.json"
    status = run.main(["--point", "2,3,64K", "--no-parallel", "--no-naive", "--no-cache-check", "--repeat", "1",
                       "--corruption-sizes", "", "--breakdown-sizes", "", "--out", str(out),
                       "--work", str(tmp_path / "work")])
    assert status == 0
    doc = json.loads(out.read_text())
    (point,) = doc["points"]
    assert point["id"] == "n2-m3-s64K" and point["ratios"]["all_passed"] is True, point
    assert point["harness"]["matched_serial"]["cases"] == 2
    assert point["harness"]["matrix_serial"]["cases"] == 2 * len(run.MATRIX)
    assert point["floor"]["sound"] == 2
    assert "n2-m3-s64K" in capsys.readouterr().out
    assert str(tmp_path) not in json.dumps({k: v for k, v in doc.items() if k != "command" and k != "commands"})
