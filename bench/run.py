#!/usr/bin/env python3
"""The harness's benchmark: the harness vs the bare SQLite floor vs a naive pytest suite.

    python bench/run.py --quick                 # small grid, under two minutes
    python bench/run.py                         # the full grid and the 1 GB point (long; --resume)
    python bench/run.py --axis S --resume       # one axis of the full grid, kept with what is there
    python bench/run.py --big-only --resume     # only the 1 GB point
    python bench/run.py --point 10,5,10M        # exactly this point: N fixtures, M migrations, size S

Every point generates (or reuses) a synthetic project (``bench/project.py``) and measures,
in this one process run: the floor (``bench/floor.py``, in this process), ``harness gate``
on the matrix (serial and ``-n 2``) and the naive suite (``bench/naive.py``, with pytest),
each as a child process whose wall time, CPU time and peak RSS are recorded. It prints a
table and writes everything to ``--out`` (JSON) as it goes. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import breakdown, corruption_cost, floor, measure, naive, project  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BENCH_VERSION = 1
KB, MB, GB = 1 << 10, 1 << 20, 1 << 30

#: The matrix check whose work is the floor's (copy, upgrade, integrity_check,
#: foreign_key_check): harness / floor compares like with like.
MATCHED = ("integrity",)
#: The four matrix checks whose verdicts the floor's work would decide, as the harness runs
#: them (each case its own copy and upgrade); the naive suite has the same four tests.
MATRIX = ("upgrades", "integrity", "schema-converges", "idempotent")
DRILL_KINDS = ("header-magic", "table-leaf-damaged", "truncate-mid-page")

BASE = (10, 5, 1 * MB)
QUICK_GRID = {"N": [20], "M": [15], "S": [10 * MB]}
FULL_GRID = {"N": [50, 100, 200], "M": [20, 50, 100], "S": [10 * MB, 100 * MB]}
#: fixtures at the S axis's larger sizes (growth along S and M is compared per case)
S_AXIS_N = {"quick": 4, "full": 10}
#: the per-case overhead: tiny fixtures (size costs vanish), few vs many cases
OVERHEAD = {"quick": ((10, 5, 64 * KB), (100, 5, 64 * KB)), "full": ((10, 5, 64 * KB), (200, 5, 64 * KB))}
BIG = (2, 5, 1 * GB)  # the 1 GB point: matched and matrix checks, drills, memory

#: Each target: its limit, how a value is held against it, and what is measured.
TARGETS = {
    "harness_over_floor_at_10MB": {
        "limit": 1.25, "op": "<=", "what": "harness / floor at 10 MB fixtures, matched check (integrity, one upgrade "
        "per fixture): the harness's own per-case times summed (results.json) over the floor's time"},
    "matrix_over_floor_at_10MB": {
        "limit": 1.25, "op": "<=", "what": "the same for the four matrix checks (each case its own upgrade) over the "
        "same floor"},
    "per_case_overhead_ms": {
        "limit": 5.0, "op": "<", "what": "fixed per-case cost beyond the floor: on 64 KB fixtures, ((harness_N2 - "
        "harness_N1) - (floor_N2 - floor_N1)) / (N2 - N1), whole runs, CPU ms"},
    "parallel_speedup": {"limit": 1.7, "op": ">=", "what": "serial / -n 2 wall time, four matrix checks, the "
                         "largest point"},
    "linear_growth": {"limit": 1.2, "op": "<=", "what": "worst growth exponent of the harness's per-case time "
                      "along N, M, S"},
    "peak_rss_mb_at_1GB": {"limit": 300.0, "op": "<", "what": "largest harness process RSS, matrix and drills on "
                           "1 GB"},
    "cache_second_run_rebuilds": {"limit": 0, "op": "<=", "what": "fixtures the store rebuilds on a second run"},
    "corruption_over_copy": {"limit": 1.0, "op": "<", "what": "max over kinds of apply / copying the damaged file, "
                             "at the largest size measured"},
}


def met(name: str, value: object) -> bool | None:
    """Whether ``value`` meets target ``name`` (None: not measured)."""
    if value is None:
        return None
    limit, op = TARGETS[name]["limit"], TARGETS[name]["op"]
    v = float(value)  # type: ignore[arg-type]
    return {"<=": v <= limit, "<": v < limit, ">=": v >= limit}[op]  # type: ignore[operator]


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMG]?)B?$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``64K``, ``10M``, ``1G`` or bytes; an ``ArgumentTypeError`` (argparse's exit 2) otherwise."""
    match = _SIZE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 64K, 10M, 1G)")
    size = int(float(match[1]) * {"": 1, "K": KB, "M": MB, "G": GB}[match[2].upper()])
    if size < 16 * KB:
        raise argparse.ArgumentTypeError(f"size {text!r} too small: at least 16K (a few pages of each table)")
    return size


def parse_sizes(text: str) -> list[int]:
    """A comma-separated list of sizes; empty for ''."""
    return [parse_size(x) for x in text.split(",") if x.strip()]


def human(size: int) -> str:
    for unit, scale in (("G", GB), ("M", MB), ("K", KB)):
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    for unit, scale in (("G", GB), ("M", MB), ("K", KB)):
        if size >= scale:
            return f"{size / scale:.1f}{unit}"
    return str(size)


def point_id(n: int, m: int, s: int) -> str:
    return f"n{n}-m{m}-s{human(s)}"


def log(text: str) -> None:
    print(text, flush=True)


def ratio(a: object, b: object) -> float | None:
    try:
        return round(float(a) / float(b), 3) if float(b) > 0 else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------------------------------
# One point: a generated project and the runs on it
# ------------------------------------------------------------------------------------------


class Point:
    def __init__(self, work: Path, n: int, m: int, s: int, axis: str) -> None:
        self.work, self.n, self.m, self.s, self.axis = work, n, m, s, axis
        self.id = point_id(n, m, s)
        self.dir = work / "points" / f"{self.id}-{axis}"
        self.cache = work / "cache"

    def prepare(self) -> dict[str, object]:
        started = time.perf_counter()
        self.migrations = project.write_migrations(self.work / "projects" / f"m{self.m}" / "migrations", self.m)
        self.fixtures = project.generate(self.work, self.migrations, self.m, self.n, self.s, log=log)
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        self.manifest = project.write_manifest(self.dir / "fixtures", self.fixtures)
        project.place_in_cache(self.manifest, self.fixtures, self.cache)
        self.matched = project.write_scenario(self.dir / "matched.toml", self.migrations, self.manifest, MATCHED)
        self.matrix = project.write_scenario(self.dir / "matrix.toml", self.migrations, self.manifest, MATRIX)
        return {"generate_seconds": round(sum(f.seconds for f in self.fixtures), 3),
                "prepare_seconds": round(time.perf_counter() - started, 3),
                "fixture_bytes": sum(f.size for f in self.fixtures),
                "pending_migrations": sum(self.m - f.version for f in self.fixtures)}

    def case_ids(self, checks: tuple[str, ...]) -> list[str]:
        return [f"matrix[fixture={f.name}]::{c}" for f in self.fixtures for c in checks]

    def gate(self, scenario: Path, label: str, workers: str, cases: list[str] | None, *,
             cache: Path | None = None) -> dict[str, object]:
        """One ``harness gate`` run as a child process (``cases`` None: every case)."""
        reports = self.dir / f"reports-{label}"
        shutil.rmtree(reports, ignore_errors=True)
        argv = [sys.executable, "-m", "harness", "gate", str(scenario), "-n", workers, "--reports", str(reports),
                "--workdir", str(self.dir / "cases")]
        for case in cases or ():
            argv += ["--case", case]
        ran = measure.run(argv, cwd=self.dir, env={"HARNESS_CACHE_DIR": str(cache or self.cache)},
                          log_dir=self.dir / "logs", label=label)
        out: dict[str, object] = {"seconds": round(ran.seconds, 4), "cpu_seconds": round(ran.cpu_seconds, 4),
                                  "peak_rss_mb": ran.peak_rss_mb, "exit": ran.returncode, "workers": workers,
                                  "load_average": measure.load(), "others_cpu_seconds": ran.others_cpu_seconds}
        results = reports / "results.json"
        if results.is_file():
            data = json.loads(results.read_text())
            out["cases"] = len(data["cases"])
            out["passed"] = sum(1 for c in data["cases"] if c["outcome"] in ("passed", "warned"))
            out["in_case_seconds"] = round(sum(c["seconds"] for c in data["cases"]), 4)
            by_check: dict[str, float] = {}
            for c in data["cases"]:
                by_check[c["check"]] = by_check.get(c["check"], 0.0) + c["seconds"]
            out["in_case_seconds_by_check"] = {k: round(v, 4) for k, v in by_check.items()}
            bad = [c for c in data["cases"] if c["outcome"] not in ("passed", "warned")]
            if bad:
                out["first_failure"] = f"{bad[0]['case_id']}: {bad[0]['summary']}"[:300]
            if cases is None:
                out["case_ids"] = [c["case_id"] for c in data["cases"]]
        else:
            out["error"] = (ran.stderr or ran.stdout)[-600:]
        return out

    def gate_best(self, scenario: Path, label: str, workers: str, cases: list[str], repeat: int) -> dict[str, object]:
        """The same run ``repeat`` times; the smallest wall, CPU and in-case times are kept
        (other load on the machine only ever adds), with every sample."""
        runs = [self.gate(scenario, label, workers, cases) for _ in range(max(1, repeat))]
        best = dict(min(runs, key=lambda r: float(r["seconds"])))  # type: ignore[arg-type]
        for key in ("cpu_seconds", "in_case_seconds"):
            values = [float(r[key]) for r in runs if key in r]  # type: ignore[arg-type]
            if values:
                best[key] = min(values)
        best["samples"] = [[r["seconds"], r["cpu_seconds"], r.get("in_case_seconds"), r.get("others_cpu_seconds")]
                           for r in runs]
        return best

    def one_case(self, repeat: int = 1) -> dict[str, object]:
        """The first fixture's matched case alone: the run's fixed cost plus one case."""
        return self.gate_best(self.matched, "one-case", "0", self.case_ids(MATCHED)[:1], repeat)

    def floor(self, repeat: int = 1) -> dict[str, object]:
        runs = [floor_run(self.migrations, [f.path for f in self.fixtures], self.dir) for _ in range(max(1, repeat))]
        best = dict(min(runs, key=lambda r: float(r["seconds"])))  # type: ignore[arg-type]
        for key in ("seconds", "cpu_seconds", "first_case_seconds", "first_case_cpu_seconds"):
            best[key] = round(min(float(r[key]) for r in runs), 5)  # type: ignore[arg-type]
        best["samples"] = [[round(float(r["seconds"]), 4), r["cpu_seconds"], r["others_cpu_seconds"]]
                           for r in runs]
        return best

    def naive(self) -> dict[str, object]:
        suite = naive.write_suite(self.dir / "naive", self.migrations, [f.path for f in self.fixtures])
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:harness", "-p", "no:cacheprovider", "-p",
                "no:randomly", "-o", "addopts=", "--rootdir", str(suite.parent), "--basetemp",
                str(self.dir / "naive-tmp"), str(suite)]
        ran = measure.run(argv, cwd=suite.parent, log_dir=self.dir / "logs", label="naive")
        summary = re.search(r"(\d+) passed", ran.stdout)
        return {"seconds": round(ran.seconds, 4), "cpu_seconds": round(ran.cpu_seconds, 4),
                "peak_rss_mb": ran.peak_rss_mb, "exit": ran.returncode, "others_cpu_seconds": ran.others_cpu_seconds,
                "tests": naive.TESTS_PER_FIXTURE * len(self.fixtures),
                "passed": int(summary[1]) if summary else 0}

    def cache_runs(self) -> dict[str, object]:
        """Real SQL dumps, a cold store cache, the same run twice: does the second rebuild?"""
        cold_dir = self.dir / "sql-cache"
        if cold_dir.exists():
            shutil.rmtree(cold_dir)
        manifest = project.write_manifest(self.dir / "sqlfixtures", self.fixtures, stubs=False)
        scenario = project.write_scenario(self.dir / "sql.toml", self.migrations, manifest, MATCHED)
        cases = self.case_ids(MATCHED)
        cold = self.gate(scenario, "cache-cold", "0", cases, cache=cold_dir)
        built = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in cold_dir.glob("*.sqlite3")}
        warm = self.gate(scenario, "cache-warm", "0", cases, cache=cold_dir)
        after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in cold_dir.glob("*.sqlite3")}
        rebuilt = sum(1 for name, facts in after.items() if built.get(name) != facts)
        return {"fixtures": len(self.fixtures), "cold_seconds": cold["seconds"], "warm_seconds": warm["seconds"],
                "cold_passed": cold.get("passed"), "warm_passed": warm.get("passed"),
                "cached_files_after_cold": len(built), "rebuilt_on_second_run": rebuilt,
                "sql_bytes": sum(p.stat().st_size for p in (self.dir / "sqlfixtures").glob("*.sql"))}

    def cleanup(self) -> None:
        for name in ("cases", "naive-tmp", "sql-cache"):
            shutil.rmtree(self.dir / name, ignore_errors=True)


def floor_run(migrations: Path, fixtures: list[Path], scratch: Path) -> dict[str, object]:
    """``floor.run`` in this process, with the CPU the rest of the machine used meanwhile."""
    busy, own = measure.busy_seconds(), time.process_time()
    out = floor.run(migrations, fixtures, scratch)
    out["others_cpu_seconds"] = measure.others_cpu(busy, measure.busy_seconds(), time.process_time() - own)
    return out


def measure_point(point: Point, *, parallel: bool, run_naive: bool, repeat: int,
                  one_case_repeat: int | None = None) -> dict[str, object]:
    started = time.perf_counter()
    result: dict[str, object] = {"id": point.id, "axis": point.axis, "n": point.n, "m": point.m, "s": point.s}
    result.update(point.prepare())
    log(f"  floor, one matched case, the matched check on every fixture (best of {repeat} each)")
    result["floor"] = point.floor(repeat)
    harness: dict[str, object] = {"one_case": point.one_case(one_case_repeat or repeat)}
    harness["matched_serial"] = point.gate_best(point.matched, "matched-serial", "0", point.case_ids(MATCHED),
                                                repeat)
    log("  the four matrix checks, serial" + (" and -n 2" if parallel else "")
        + (", the naive suite" if run_naive else ""))
    harness["matrix_serial"] = point.gate(point.matrix, "matrix-serial", "0", point.case_ids(MATRIX))
    if parallel:
        harness["matrix_parallel"] = point.gate(point.matrix, "matrix-n2", "2", point.case_ids(MATRIX))
    result["harness"] = harness
    if run_naive:
        result["naive"] = point.naive()
    result["ratios"] = derive(result)
    point.cleanup()
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def derive(result: dict) -> dict[str, object]:
    f, h = result["floor"], result["harness"]
    n = result["n"]
    out: dict[str, object] = {}
    if "one_case" in h:  # fixed cost: one case's run minus the floor's time for that fixture
        out["fixed_seconds"] = round(h["one_case"]["seconds"] - f["first_case_seconds"], 4)
        out["fixed_cpu_seconds"] = round(h["one_case"]["cpu_seconds"] - f["first_case_cpu_seconds"], 4)
    if "matched_serial" in h:
        matched = h["matched_serial"]
        out["harness_over_floor"] = ratio(matched["seconds"], f["seconds"])
        out["in_case_over_floor"] = ratio(matched.get("in_case_seconds"), f["seconds"])
        if "fixed_cpu_seconds" in out:
            out["work_over_floor_cpu"] = ratio(matched["cpu_seconds"] - out["fixed_cpu_seconds"], f["cpu_seconds"])
    if "matrix_serial" in h:
        out["matrix_over_floor"] = ratio(h["matrix_serial"]["seconds"], f["seconds"])
        out["matrix_in_case_over_floor"] = ratio(h["matrix_serial"].get("in_case_seconds"), f["seconds"])
        if "naive" in result:
            out["matrix_over_naive"] = ratio(h["matrix_serial"]["seconds"], result["naive"]["seconds"])
            out["matrix_over_naive_cpu"] = ratio(h["matrix_serial"]["cpu_seconds"], result["naive"]["cpu_seconds"])
        if "matrix_parallel" in h:
            out["matrix_parallel_speedup"] = ratio(h["matrix_serial"]["seconds"], h["matrix_parallel"]["seconds"])
    if "matrix_parallel" in h:
        out["matrix_parallel_over_floor"] = ratio(h["matrix_parallel"]["seconds"], f["seconds"])
    rss = [v.get("peak_rss_mb") for v in h.values() if isinstance(v, dict) and v.get("peak_rss_mb")]
    out["harness_peak_rss_mb"] = max(rss) if rss else None
    out["others_share"] = others_share(result)
    out["all_passed"] = (f["sound"] == n and all(v.get("passed") == v.get("cases") for v in h.values())
                         and result.get("naive", {}).get("passed", 4 * n) == 4 * n)
    return out


#: Other processes' average use of the machine (in cores) above which a measurement is flagged.
DISTURBED = 0.2


def others_share(result: dict) -> float | None:
    """The most any measurement of a point shared the machine: others' CPU seconds per wall second."""
    runs = [result["floor"], *result["harness"].values(), *([result["naive"]] if "naive" in result else [])]
    shares = [float(r["others_cpu_seconds"]) / float(r["seconds"]) for r in runs
              if r.get("others_cpu_seconds") is not None and float(r.get("seconds") or 0) > 0]
    return round(max(shares), 3) if shares else None


def measure_overhead(work: Path, pair: tuple[tuple[int, int, int], ...], repeat: int) -> dict[str, object]:
    """Few vs many cases on tiny fixtures: the slope is what one more case costs beyond the floor."""
    runs = []
    for n, m, s in pair:
        point = Point(work, n, m, s, "overhead")
        point.prepare()
        f = point.floor(repeat)
        h = point.gate_best(point.matched, "matched-serial", "0", point.case_ids(MATCHED), repeat)
        point.cleanup()
        runs.append({"id": point.id, "n": n, "floor": f, "matched_serial": h})
    (a, b) = runs[0], runs[-1]
    dn = b["n"] - a["n"]

    def slope(h_key: str, f_key: str) -> float:
        dh = float(b["matched_serial"][h_key]) - float(a["matched_serial"][h_key])
        df = float(b["floor"][f_key]) - float(a["floor"][f_key])
        return round((dh - df) / dn * 1000, 3)

    return {
        "points": runs,
        "per_case_overhead_cpu_ms": slope("cpu_seconds", "cpu_seconds"),
        "per_case_overhead_wall_ms": slope("seconds", "seconds"),
        "in_case_overhead_ms": slope("in_case_seconds", "seconds"),  # inside run_case: the check's own extra work
        "floor_per_case_ms": round((float(b["floor"]["seconds"]) - float(a["floor"]["seconds"])) / dn * 1000, 3),
    }


# ------------------------------------------------------------------------------------------
# The 1 GB point: matched and matrix checks, drills, memory
# ------------------------------------------------------------------------------------------


def measure_big(point: Point, drill_kinds: tuple[str, ...]) -> dict[str, object]:
    started = time.perf_counter()
    result: dict[str, object] = {"id": point.id, "axis": "big", "n": point.n, "m": point.m, "s": point.s}
    result.update(point.prepare())
    log("  floor")
    result["floor"] = point.floor(1)
    log("  harness: the matched check, serial")
    harness: dict[str, object] = {"matched_serial": point.gate(point.matched, "matched-serial", "0",
                                                               point.case_ids(MATCHED))}
    log("  harness: the four matrix checks, -n 2")
    harness["matrix_parallel"] = point.gate(point.matrix, "matrix-n2", "2", point.case_ids(MATRIX))
    if drill_kinds:
        log(f"  harness: drills ({', '.join(drill_kinds)}) by the reference engine on the same migrations")
        drills = project.write_scenario(point.dir / "drills.toml", point.migrations, point.manifest, (),
                                        engine="reference", drill_kinds=drill_kinds)
        harness["drills_serial"] = point.gate(drills, "drills-serial", "0", None)  # every case it expands to
    result["harness"] = harness
    result["ratios"] = derive(result)
    point.cleanup()
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


# ------------------------------------------------------------------------------------------
# Growth, targets, output
# ------------------------------------------------------------------------------------------


def exponent(x1: float, y1: float | None, x2: float, y2: float | None) -> float | None:
    if y1 is None or y2 is None or min(x1, y1, x2, y2) <= 0 or x1 == x2:
        return None
    return round(math.log(y2 / y1) / math.log(x2 / x1), 3)


def series(p: dict, per_case: bool) -> dict[str, float | None]:
    """The times of one point that growth is judged on (per case along M and S)."""
    h = p["harness"]
    values: dict[str, float | None] = {
        "floor": p["floor"]["seconds"],
        "harness_matched_in_case": h.get("matched_serial", {}).get("in_case_seconds"),
        "harness_matrix_in_case": h.get("matrix_serial", {}).get("in_case_seconds"),
        "harness_matrix_run": h.get("matrix_serial", {}).get("seconds"),
        "naive_run": p["naive"]["seconds"] if "naive" in p else None,
    }
    if per_case:
        values = {k: (v / p["n"] if v is not None else None) for k, v in values.items()}
    return values


def growth(points: list[dict]) -> dict[str, object]:
    """Per axis: how each series grows from the base point to the axis's last point that has it.

    ``exponent`` is log(t2/t1) / log(x2/x1): 1.0 is linear. The harness is taken by its own
    per-case times (``in_case``: no start-up, no noise from it); along M and S every series
    is per case (divided by N), since the S axis may use fewer fixtures than the base. The
    1 GB point (matched check serial, floor) extends the S axis for the series it has.
    """
    out: dict[str, object] = {}
    base = [p for p in points if p["axis"] == "base"]
    for axis, key in (("N", "n"), ("M", "m"), ("S", "s")):
        extra = [p for p in points if p["axis"] == "big" and base and p["m"] == base[0]["m"]] if axis == "S" else []
        row = sorted(base + [p for p in points if p["axis"] == axis] + extra, key=lambda p: p[key])
        if len(row) < 2:
            continue
        per_case = axis != "N"
        values = [series(p, per_case) for p in row]
        exponents: dict[str, float | None] = {}
        for name in values[0]:
            have = [(p[key], v[name]) for p, v in zip(row, values) if v[name] is not None]
            exponents[name] = exponent(*have[0], *have[-1]) if len(have) >= 2 else None
        out[axis] = {
            "values": [p[key] for p in row],
            "points": [p["id"] for p in row],
            "per_case": per_case,
            "exponent": exponents,
            "in_case_over_floor": [p["ratios"].get("in_case_over_floor") for p in row],
            "harness_over_floor": [p["ratios"].get("harness_over_floor") for p in row],
        }
    return out


def targets(doc: dict) -> dict[str, object]:
    points = [p for p in doc["points"] if p["axis"] != "big"]
    big = next((p for p in doc["points"] if p["axis"] == "big"), None)
    out: dict[str, object] = {}

    def verdict(name: str, value: object, where: str = "", ok: bool | None = None) -> None:
        out[name] = {**TARGETS[name], "value": value, "met": met(name, value) if ok is None else ok, "where": where}

    for name in TARGETS:
        verdict(name, None, "not measured in this run")

    at10 = [p for p in points if p["s"] == 10 * MB]
    bd = (doc.get("breakdown") or {}).get("10M", {}).get("per_check_ms", {})
    if at10:
        worst = max(at10, key=lambda p: p["ratios"].get("in_case_over_floor") or 0)
        r = worst["ratios"]
        value = r.get("in_case_over_floor")
        verdict("harness_over_floor_at_10MB", value,
                f"{worst['id']}; in-process breakdown (CPU): {bd.get('integrity_over_floor')}; whole run, wall: "
                f"{r.get('harness_over_floor')} (fixed cost {r.get('fixed_seconds')} s)")
        value = r.get("matrix_in_case_over_floor")
        verdict("matrix_over_floor_at_10MB", value,
                f"{worst['id']}; in-process breakdown (CPU): {bd.get('four_checks_over_floor')}; whole run, wall: "
                f"{r.get('matrix_over_floor')}")
    ovh = doc.get("overhead")
    if ovh:
        value = ovh["per_case_overhead_cpu_ms"]
        verdict("per_case_overhead_ms", value,
                f"{' vs '.join(p['id'] for p in ovh['points'])}; wall {ovh['per_case_overhead_wall_ms']} ms, of "
                f"which inside the check {ovh['in_case_overhead_ms']} ms; the floor itself "
                f"{ovh['floor_per_case_ms']} ms per case")
    par = [p for p in points if "matrix_parallel_speedup" in p["ratios"]]
    if par:
        largest = max(par, key=lambda p: p["harness"]["matrix_serial"]["seconds"])
        value = largest["ratios"]["matrix_parallel_speedup"]
        mp = largest["harness"]["matrix_parallel"]
        verdict("parallel_speedup", value,
                f"{largest['id']}; this machine's own ceiling for two CPU-bound processes "
                f"{doc['machine'].get('parallel_ceiling')} (at the end {doc['machine'].get('parallel_ceiling_at_end')}); "
                f"other processes' CPU during the -n 2 run {mp.get('others_cpu_seconds')} s of {mp['seconds']} s")
    exps = {f"{axis}:{name}": e for axis, g in doc.get("growth", {}).items()
            for name, e in g["exponent"].items() if name.startswith("harness") and e is not None}
    if exps:
        worst_name = max(exps, key=lambda k: exps[k])
        verdict("linear_growth", exps[worst_name], worst_name)
    if big:
        value = big["ratios"]["harness_peak_rss_mb"]
        verdict("peak_rss_mb_at_1GB", value,
                f"{big['id']}; " + ", ".join(f"{k} {v.get('peak_rss_mb')} MB" for k, v in big["harness"].items()))
    if doc.get("cache"):
        value = doc["cache"]["rebuilt_on_second_run"]
        verdict("cache_second_run_rebuilds", value,
                f"{doc['cache']['point']}: {doc['cache']['cached_files_after_cold']} built by the first run",
                ok=met("cache_second_run_rebuilds", value) and doc["cache"]["cached_files_after_cold"] > 0)
    corr = doc.get("corruption") or {}
    if corr:  # judged at the largest size measured, where a few syscalls' fixed cost matters least
        size = max(corr, key=lambda k: corr[k]["database_bytes"])
        c = corr[size]
        value = c["max_ratio"]
        verdict("corruption_over_copy", value,
                f"{c['worst_kind']} at {size}; over 1: {', '.join(c['over_copy']) or 'none'}; of which by more "
                f"than 1 ms: {', '.join(c.get('over_copy_by_1ms', [])) or 'none'}; against copying "
                f"the database instead: max {c['max_ratio_vs_db_copy']}, over 1: {', '.join(c['over_db_copy']) or 'none'}")
    return out


def _f(value: object, digits: int = 2) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"  # type: ignore[arg-type]


def table(doc: dict) -> str:
    rows = [("point", "axis", "floor s", "harness s", "fixed s", "h/floor", "case/floor",
             "matrix s", "m-case/floor", "naive s", "m/naive", "-n2 s", "speed-up", "rss MB", "others", "ok")]
    for p in doc["points"]:
        h, r, f = p["harness"], p["ratios"], p["floor"]
        ms, mp = h.get("matrix_serial"), h.get("matrix_parallel")
        rows.append((
            p["id"], p["axis"], f"{f['seconds']:.2f}",
            f"{h['matched_serial']['seconds']:.2f}" if "matched_serial" in h else "-",
            _f(r.get("fixed_seconds")), _f(r.get("harness_over_floor")), _f(r.get("in_case_over_floor")),
            f"{ms['seconds']:.2f}" if ms else "-", _f(r.get("matrix_in_case_over_floor")),
            f"{p['naive']['seconds']:.2f}" if "naive" in p else "-", _f(r.get("matrix_over_naive")),
            f"{mp['seconds']:.2f}" if mp else "-", _f(r.get("matrix_parallel_speedup")),
            _f(r.get("harness_peak_rss_mb"), 0),
            _f(r.get("others_share")) + ("!" if (r.get("others_share") or 0) > DISTURBED else ""),
            "yes" if r.get("all_passed") else "NO"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).rjust(w) if i > 1 else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    out = ["", "Per point (wall seconds; floor and harness best of --repeat). harness = `harness gate -n 0` on the "
               "matched check `integrity` (the floor's work: one copy + upgrade + integrity/FK per fixture); "
               f"matrix = the four checks {', '.join(MATRIX)} (each case its own copy and upgrade). fixed = a "
               "one-case run minus the floor's first fixture; h/floor = whole runs; case/floor = the harness's own "
               "per-case times (results.json) summed, over the floor. others = the most CPU other processes used "
               f"during any of the point's runs, in cores (! over {DISTURBED}: disturbed, rerun it with --point).",
           *lines]
    if doc.get("overhead"):
        o = doc["overhead"]
        out += ["", f"Per-case overhead ({' vs '.join(p['id'] for p in o['points'])}): "
                    f"{o['per_case_overhead_cpu_ms']} ms CPU, {o['per_case_overhead_wall_ms']} ms wall per case "
                    f"beyond the floor's {o['floor_per_case_ms']} ms; inside the check itself {o['in_case_overhead_ms']} ms"]
    if doc.get("growth"):
        out += ["", "Growth (exponent k of t ~ x^k from the base point to the axis's last point; 1.0 = linear; "
                    "along M and S per case; harness by its own per-case times):"]
        for axis, g in doc["growth"].items():
            exps = ", ".join(f"{k} {v}" for k, v in g["exponent"].items())
            values = [human(v) for v in g["values"]] if axis == "S" else g["values"]
            out.append(f"  {axis} {values}: {exps}; case/floor {g['in_case_over_floor']}")
    for size, b in (doc.get("breakdown") or {}).items():
        pc = b["per_check_ms"]
        out += ["", f"Per-step breakdown at {size} (in-process, CPU ms per case, median of {b['fixtures']} fixtures x "
                    f"{b['repeats']}): floor {pc['floor']}, integrity {pc['integrity']} (x{pc['integrity_over_floor']}), "
                    f"upgrades {pc['upgrades']}, schema-converges {pc['schema-converges']}, idempotent "
                    f"{pc['idempotent']}; the four checks x{pc['four_checks_over_floor']} the floor"]
        steps = sorted(b["steps_ms"].items(), key=lambda kv: -kv[1]["cpu_ms"])
        out.append("  " + "; ".join(f"{k} {v['cpu_ms']}" for k, v in steps))
        if "projected_sharing_over_floor" in pc:
            out.append(f"  idempotent when it read the state before and after (the design before this profile): "
                       f"{pc['idempotent, state read before and after']} ms; projected, the four checks sharing one "
                       f"upgrade per fixture: x{pc['projected_sharing_over_floor']} the floor")
    if doc.get("drills"):
        d = doc["drills"]
        out += ["", f"Drills on {d['point']} (reference engine, kinds {', '.join(d['kinds'])}): "
                    f"{d.get('cases')} cases, {d.get('passed')} passed, {d['seconds']:.1f}s, peak RSS {d['peak_rss_mb']} MB"
                    + (f"; first failure: {d['first_failure']}" if d.get("first_failure") else "")]
    if doc.get("cache"):
        c = doc["cache"]
        out += ["", f"Fixture cache ({c['point']}, real SQL dumps, {c['sql_bytes'] / MB:.1f} MB of SQL): "
                    f"cold {c['cold_seconds']:.2f}s, warm {c['warm_seconds']:.2f}s, "
                    f"{c['cached_files_after_cold']} built, {c['rebuilt_on_second_run']} rebuilt on the second run"]
    for size, c in (doc.get("corruption") or {}).items():
        over = ", ".join(f"{k} {c['kinds'][k]['ratio']} ({c['kinds'][k]['apply_ms']:.1f} ms)" for k in c["over_copy"])
        over_db = ", ".join(f"{k} {c['kinds'][k]['ratio_vs_db_copy']}" for k in c["over_db_copy"])
        out += ["", f"Corruption cost at {size} ({len(c['kinds'])} file-damaging kinds, median of {c['repeats']}): "
                    f"max apply / copy of the damaged file {c['max_ratio']} ({c['worst_kind']}); at or over 1: "
                    f"{over or 'none'}; apply / copy of the database at or over 1: {over_db or 'none'}"]
    if doc.get("targets"):
        out += ["", "Targets:"]
        for name, t in doc["targets"].items():
            state = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
            out.append(f"  {state:>12}  {name} = {t['value']} (limit {t['limit']}; {t['where']})")
    return "\n".join(out)


def write(doc: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------
# The grid
# ------------------------------------------------------------------------------------------


def plan(args: argparse.Namespace) -> list[tuple[int, int, int, str]]:
    if args.point:
        return [(n, m, s, "point") for n, m, s in args.point]
    grid = QUICK_GRID if args.quick else FULL_GRID
    axes = ["N", "M", "S"] if not args.axis else args.axis.split(",")
    points = [(*BASE, "base")]
    for axis in axes:
        for value in grid[axis]:
            n, m, s = BASE
            if axis == "N":
                n = value
            elif axis == "M":
                m = value
            else:
                n, s = S_AXIS_N["quick" if args.quick else "full"], value
            points.append((n, m, s, axis))
    return points


def cost_units(n: int, m: int, s: int) -> float:
    """A rough model of a point's cost, for the ETA (calibrated as points finish)."""
    return 8.0 + n * (s / MB + 0.3) * (1 + m / 10)


def _eta(remaining: list[float], spent_units: float, spent_seconds: float) -> str:
    if spent_units <= 0:
        return ""
    seconds = sum(remaining) * spent_seconds / spent_units
    return f", ETA ~{seconds / 60:.1f} min" if seconds > 90 else f", ETA ~{seconds:.0f}s"


def parse_point(text: str) -> tuple[int, int, int]:
    """``N,M,S``: N >= 1 fixtures, M >= 2 migrations (a legacy fixture needs a pending one), size S."""
    parts = [x.strip() for x in text.split(",")]
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        raise argparse.ArgumentTypeError(f"not a point: {text!r} (expected N,M,S, e.g. 10,5,10M)")
    n, m = int(parts[0]), int(parts[1])
    if n < 1 or m < 2:
        raise argparse.ArgumentTypeError(f"point {text!r}: need N >= 1 fixtures and M >= 2 migrations")
    return n, m, parse_size(parts[2])


def parse_points(text: str) -> tuple[tuple[int, int, int], ...]:
    """``N,M,S;N,M,S`` (the overhead pair), or () for ''."""
    points = tuple(parse_point(x) for x in text.split(";") if x.strip())
    if len(points) not in (0, 2) or (points and points[0][0] == points[1][0]):
        raise argparse.ArgumentTypeError(f"not an overhead pair: {text!r} (two points with different N, or '')")
    return points


def parse_axes(text: str) -> str:
    axes = [a.strip().upper() for a in text.split(",") if a.strip()]
    if not axes or any(a not in ("N", "M", "S") for a in axes):
        raise argparse.ArgumentTypeError(f"not axes: {text!r} (any of N, M, S, comma-separated)")
    return ",".join(axes)


def parse_positive(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a positive integer: {text!r}")
    return int(text)


def parse_kinds(text: str) -> tuple[str, ...]:
    """Drill kinds, each one the catalogue knows."""
    from harness.corruption import catalogue

    known = {k.id for k in catalogue.kinds()}
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in known]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown drill kinds: {', '.join(unknown)} (ids of harness.corruption.catalogue, e.g. header-magic)")
    return kinds


def _sources(work: Path, size: int) -> list[Path]:
    """Generated fixtures of that size for the fewest migrations, newest schema first."""
    found = list((work / "fixtures" / f"g{project.GENERATOR_VERSION}").glob(f"m*-v*-s{size}-i*.sqlite3"))
    if not found:
        return []
    fewest = min(int(p.name.split("-")[0][1:]) for p in found)
    found = [p for p in found if int(p.name.split("-")[0][1:]) == fewest]
    return sorted(found, key=lambda p: (-int(p.name.split("-")[1][1:]), p.name))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--quick", action="store_true", help="the small grid (under two minutes)")
    p.add_argument("--axis", type=parse_axes, help="only these axes of the grid, comma-separated: N,M,S (the base point always)")
    p.add_argument("--point", action="append", type=parse_point, metavar="N,M,S",
                   help="measure exactly this point (repeatable), e.g. 10,5,10M; no grid")
    p.add_argument("--big", action="store_true", help="with --quick or --axis: also the 1 GB point")
    p.add_argument("--no-big", action="store_true", help="full run without the 1 GB point")
    p.add_argument("--big-only", action="store_true", help="only the 1 GB point")
    p.add_argument("--big-point", type=parse_point, default=BIG, metavar="N,M,S", help="default 2,5,1G")
    p.add_argument("--drill-kinds", type=parse_kinds, default=DRILL_KINDS, help="drill kinds at the 1 GB point "
                   f"(default {','.join(DRILL_KINDS)}; '' for none)")
    p.add_argument("--overhead", type=parse_points, default=None,
                   metavar="N,M,S;N,M,S", help="the two points of the per-case overhead measurement ('' to skip)")
    p.add_argument("--corruption-sizes", type=parse_sizes, default=None, help="sizes for the corruption cost (default: the largest "
                   "S with --quick, else every S of the run); '' to skip")
    p.add_argument("--breakdown-sizes", type=parse_sizes, default=None, help="sizes for the in-process per-step breakdown "
                   "(default: every S of the run up to 100M); '' to skip")
    p.add_argument("--no-parallel", action="store_true", help="skip the -n 2 runs")
    p.add_argument("--no-naive", action="store_true", help="skip the naive pytest suite")
    p.add_argument("--no-cache-check", action="store_true", help="skip the cold/warm fixture cache runs")
    p.add_argument("--repeat", type=parse_positive, default=None, help="runs of the floor and of the one-case and matched "
                   "harness runs per point; the fastest is kept (default 2 with --quick, else 3)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "harness-bench",
                   help="work directory (generated fixtures are kept here between runs)")
    p.add_argument("--resume", action="store_true", help="keep what --out already holds and skip it")
    p.add_argument("--redo", action="append", default=[], metavar="ID",
                   help="with --resume: measure this again (a point id such as n10-m5-s1M, or overhead, cache, "
                        "drills, corruption, breakdown); repeatable")
    p.add_argument("--show", type=Path, metavar="JSON", help="print the table of a results file and exit")
    return p


def check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Contradictory options end the run before it starts (argparse's exit 2, one line)."""
    if args.big_only and (args.point or args.no_big):
        p.error("--big-only measures only the 1 GB point: not with --point or --no-big")
    if args.point and (args.quick or args.axis):
        p.error("--point measures exactly the points given: not with --quick or --axis")
    if args.big and args.no_big:
        p.error("--big and --no-big contradict each other")
    if args.redo and not args.resume:
        p.error("--redo measures part of a resumed run again: use it with --resume")


def load_previous(p: argparse.ArgumentParser, path: Path, resume: bool) -> dict:
    """What ``--out`` already holds (with ``--resume``), or a new document."""
    if not resume or not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        p.error(f"--resume: cannot read {path}: {exc}")
    if not isinstance(doc, dict) or doc.get("bench_version") != BENCH_VERSION:
        p.error(f"--resume: {path} was not written by this bench (version {BENCH_VERSION}); use another --out")
    return doc


def forget(doc: dict, redo: list[str]) -> None:
    """Drop what ``--redo`` names from a resumed document, so it is measured again."""
    doc["points"] = [pt for pt in doc.get("points", []) if pt["id"] not in redo]
    for section in ("overhead", "cache", "drills", "corruption", "breakdown"):
        if section in redo:
            doc.pop(section, None)


def show(p: argparse.ArgumentParser, path: Path) -> int:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        print(table(doc))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        p.error(f"--show: cannot read {path} as bench results: {exc!r}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.show:
        return show(p, args.show)
    check_args(p, args)
    mode = "quick" if args.quick else "full"
    if args.repeat is None:
        args.repeat = 2 if args.quick else 3
    started = time.time()
    work = args.work.resolve()
    doc: dict = load_previous(p, args.out, args.resume)
    forget(doc, args.redo)
    work.mkdir(parents=True, exist_ok=True)
    doc.setdefault("points", [])
    phases: dict[str, float] = dict(doc.get("phases_seconds") or {})
    machine = measure.machine()
    machine["PYTHONDONTWRITEBYTECODE"] = os.environ.get("PYTHONDONTWRITEBYTECODE")
    machine["parallel_ceiling"] = measure.parallel_ceiling()
    doc.update({
        "bench_version": BENCH_VERSION,
        "command": " ".join(["python", "bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "commands": [*doc.get("commands", []), " ".join(["python", "bench/run.py",
                                                         *(argv if argv is not None else sys.argv[1:])])],
        "mode": "points" if args.point else mode,
        "machine": machine,
        "started": doc.get("started") or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "checks": {"matched": list(MATCHED), "matrix": list(MATRIX), "naive_tests_per_fixture": naive.TESTS_PER_FIXTURE},
        "repeat": args.repeat,
    })

    done = {(p["id"], p["axis"]) for p in doc["points"]}
    todo = [] if args.big_only else plan(args)
    todo = [t for t in todo if (point_id(*t[:3]), t[3]) not in done]
    big = args.big_only or args.big or not (args.quick or args.point or args.axis or args.no_big)
    big = big and (point_id(*args.big_point), "big") not in done
    units = [cost_units(*t[:3]) for t in todo] + ([cost_units(*args.big_point) * 3] if big else [])
    spent_units = spent_seconds = 0.0
    total = len(todo) + int(big)
    for index, (n, m, s, axis) in enumerate(todo):
        log(f"[{index + 1}/{total}] {point_id(n, m, s)} ({axis}){_eta(units[index:], spent_units, spent_seconds)}")
        t0 = time.perf_counter()
        parallel = not args.no_parallel and (not args.quick or axis == "S")  # quick: -n 2 on the largest point
        result = measure_point(Point(work, n, m, s, axis), parallel=parallel, run_naive=not args.no_naive,
                               repeat=args.repeat, one_case_repeat=1 if args.quick else None)
        spent_seconds += time.perf_counter() - t0
        spent_units += units[index]
        doc["points"] = [p for p in doc["points"] if (p["id"], p["axis"]) != (result["id"], axis)] + [result]
        phases["points"] = round(sum(float(p["seconds"]) for p in doc["points"] if p["axis"] != "big"), 1)
        r = result["ratios"]
        log(f"  -> floor {result['floor']['seconds']:.3f}s; harness {result['harness']['matched_serial']['seconds']:.2f}s "
            f"(whole run x{r.get('harness_over_floor')}, per case x{r.get('in_case_over_floor')}); four checks per case "
            f"x{r.get('matrix_in_case_over_floor')}" + (f", vs naive x{r['matrix_over_naive']}" if "matrix_over_naive" in r
                                                        else "")
            + (f"; -n 2 speed-up x{r['matrix_parallel_speedup']}" if "matrix_parallel_speedup" in r else ""))
        doc["phases_seconds"] = phases
        write(doc, args.out)

    pair = args.overhead if args.overhead is not None else (() if args.big_only or args.point else OVERHEAD[mode])
    if pair and not (args.resume and doc.get("overhead")):
        log(f"per-case overhead: {' vs '.join(point_id(*p) for p in pair)}")
        t0 = time.perf_counter()
        doc["overhead"] = measure_overhead(work, pair, args.repeat)
        phases["overhead"] = round(time.perf_counter() - t0, 1)
        write(doc, args.out)

    if not args.no_cache_check and not args.big_only and not (args.resume and doc.get("cache")):
        n, m, s = BASE if not args.point else args.point[0]
        point = Point(work, min(n, 5), m, s, "cache")
        log(f"fixture cache: {point.id}, real SQL dumps, a cold cache then a warm one")
        t0 = time.perf_counter()
        point.prepare()
        doc["cache"] = {"point": point.id, **point.cache_runs()}
        point.cleanup()
        phases["cache"] = round(time.perf_counter() - t0, 1)
        write(doc, args.out)

    if big:
        n, m, s = args.big_point
        log(f"[{total}/{total}] {point_id(n, m, s)} (big: matched and matrix checks, drills, memory)"
            f"{_eta(units[len(todo):], spent_units, spent_seconds)}")
        kinds = args.drill_kinds
        t0 = time.perf_counter()
        result = measure_big(Point(work, n, m, s, "big"), kinds)
        phases["big"] = round(time.perf_counter() - t0, 1)
        doc["points"] = [p for p in doc["points"] if (p["id"], p["axis"]) != (result["id"], "big")] + [result]
        if "drills_serial" in result["harness"]:
            d = result["harness"]["drills_serial"]
            doc["drills"] = {"point": result["id"], "kinds": list(kinds), **{k: d.get(k) for k in (
                "seconds", "cpu_seconds", "peak_rss_mb", "cases", "passed", "in_case_seconds", "case_ids",
                "first_failure", "error")}}
        write(doc, args.out)

    sizes = sorted({p["s"] for p in doc["points"]})
    if args.corruption_sizes is not None:
        sizes = args.corruption_sizes
    elif args.quick:
        sizes = sizes[-1:]  # the largest of the run: fixed costs matter least there
    doc.setdefault("corruption", {})
    for size in sizes:
        label = human(size)
        sources = _sources(work, size)
        if label in doc["corruption"] or not sources:
            continue
        repeats = 1 if args.quick or size > 100 * MB else 3
        log(f"corruption cost at {label} (median of {repeats})")
        t0 = time.perf_counter()
        doc["corruption"][label] = corruption_cost.measure(sources[0], work / "corruption", repeats=repeats)
        phases[f"corruption {label}"] = round(time.perf_counter() - t0, 1)
        write(doc, args.out)

    sizes = sorted({p["s"] for p in doc["points"] if p["s"] <= 100 * MB})
    if args.breakdown_sizes is not None:
        sizes = args.breakdown_sizes
    doc.setdefault("breakdown", {})
    for size in sizes:
        label = human(size)
        sources = _sources(work, size)[:2 if args.quick or size > 10 * MB else 3]
        if label in doc["breakdown"] or not sources:
            continue
        repeats = 1 if size >= 10 * MB and (args.quick or size > 10 * MB) else 2
        log(f"per-step breakdown at {label}")
        t0 = time.perf_counter()
        m = int(sources[0].name.split("-")[0][1:])
        migrations = work / "projects" / f"m{m}" / "migrations"
        doc["breakdown"][label] = breakdown.measure(migrations, sources, work / "breakdown", repeats=repeats)
        phases[f"breakdown {label}"] = round(time.perf_counter() - t0, 1)
        write(doc, args.out)

    doc["machine"]["parallel_ceiling_at_end"] = measure.parallel_ceiling()
    doc["growth"] = growth([p for p in doc["points"] if p["axis"] != "point"])
    doc["targets"] = targets(doc)
    doc["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    doc["phases_seconds"] = phases
    doc["seconds"] = round(float(doc.get("seconds", 0)) * int(args.resume) + time.time() - started, 1)
    doc["machine"]["load_average_at_end"] = measure.load()
    write(doc, args.out)
    print(table(doc))
    print(f"\nresults: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
