"""Does inflicting a damage cost less than copying the file it damages?

For each kind of the catalogue that damages files (every area but ``faults``, whose kinds
are transient conditions of the engine's process), on an S-sized database: copy it into a
fresh data directory, ``catalogue.prepare`` the starting state the kind needs (WAL frames,
a hot journal, snapshots ...), time ``shutil.copyfile`` of every file there (page cache
warm for both sides), then time ``kind.apply(setup)``. The ratio is apply / the copy time of
the files the damage changed or deleted (the database when it only created files).
Median of ``repeats`` runs, each on a new copy.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from harness.corruption import catalogue

FILE_AREAS = ("header", "truncation", "pages_damage", "wal", "journal", "snapshots")


def _files(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.rglob("*") if p.is_file())


def _copy_seconds(path: Path, scratch: Path) -> float:
    dest = scratch / "copy.bin"
    start = time.perf_counter()
    shutil.copyfile(path, dest)
    seconds = time.perf_counter() - start
    dest.unlink()
    return seconds


def measure_kind(kind: catalogue.Kind, source: Path, work: Path, seed: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix=f"{kind.id}-", dir=work) as scratch_text:
        scratch = Path(scratch_text)
        data = scratch / "data"
        data.mkdir()
        db = data / "app.sqlite3"
        shutil.copyfile(source, db)
        setup = catalogue.prepare(kind, db, seed=seed, workdir=scratch / "other")
        copies = {p.resolve(): _copy_seconds(p, scratch) for p in _files(data)}
        sizes = {p.resolve(): p.stat().st_size for p in _files(data)}
        start = time.perf_counter()
        damage = kind.apply(setup)
        apply_seconds = time.perf_counter() - start
        touched = [Path(p).resolve() for p in (*damage.changed, *damage.deleted)]
        touched = [p for p in touched if p in copies] or [db.resolve()]
        copy_seconds = sum(copies[p] for p in touched)
        return {"apply": apply_seconds, "copy": copy_seconds, "copy_db": copies[db.resolve()],
                "files": [p.name for p in touched],
                "bytes": sum(sizes.get(p, 0) for p in touched)}


def measure(source: Path, work: Path, *, repeats: int = 3, kinds: tuple[str, ...] = ()) -> dict[str, object]:
    """Per kind: median apply and copy milliseconds and their ratio; skipped kinds with why."""
    work.mkdir(parents=True, exist_ok=True)
    out: dict[str, object] = {}
    skipped: dict[str, str] = {}
    for kind in catalogue.kinds():
        if kind.area not in FILE_AREAS or (kinds and kind.id not in kinds):
            continue
        runs = []
        try:
            for r in range(repeats):
                runs.append(measure_kind(kind, source, work, seed=r + 1))
        except catalogue.Unsupported as exc:
            skipped[kind.id] = str(exc)
            continue
        apply_s = statistics.median(float(r["apply"]) for r in runs)  # type: ignore[arg-type]
        copy_s = statistics.median(float(r["copy"]) for r in runs)  # type: ignore[arg-type]
        copy_db = statistics.median(float(r["copy_db"]) for r in runs)  # type: ignore[arg-type]
        out[kind.id] = {"area": kind.area, "apply_ms": round(apply_s * 1000, 3), "copy_ms": round(copy_s * 1000, 3),
                        "ratio": round(apply_s / copy_s, 3) if copy_s > 0 else None,
                        "copy_db_ms": round(copy_db * 1000, 3),
                        "ratio_vs_db_copy": round(apply_s / copy_db, 3) if copy_db > 0 else None,
                        "damaged": runs[0]["files"], "damaged_bytes": runs[0]["bytes"]}
    ratios = [v["ratio"] for v in out.values() if isinstance(v, dict) and v["ratio"] is not None]  # type: ignore[index]
    worst = max(out, key=lambda k: out[k]["ratio"] or 0) if out else None  # type: ignore[index]
    return {
        "database_bytes": source.stat().st_size,
        "repeats": repeats,
        "kinds": out,
        "skipped": skipped,
        "max_ratio": max(ratios) if ratios else None,
        "worst_kind": worst,
        "over_copy": sorted(k for k, v in out.items() if (v["ratio"] or 0) >= 1.0),  # type: ignore[index]
        # over 1 by more than a millisecond: a cost that grows, not a few calls' fixed cost on a tiny file
        "over_copy_by_1ms": sorted(k for k, v in out.items()  # type: ignore[index]
                                   if (v["ratio"] or 0) >= 1.0 and v["apply_ms"] - v["copy_ms"] >= 1.0),
        "over_db_copy": sorted(k for k, v in out.items() if (v["ratio_vs_db_copy"] or 0) >= 1.0),  # type: ignore[index]
        "max_ratio_vs_db_copy": max((v["ratio_vs_db_copy"] or 0 for v in out.values()), default=None),  # type: ignore[index]
    }
