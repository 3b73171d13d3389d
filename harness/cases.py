"""A case: one check, on one combination of parameters, from one scenario.

Case ids are stable and readable (``continuity[fixture=neg-gap]::refused``) and each case's
seed is derived from the suite seed and its id alone, so a case gives the same result
whatever else runs, in whatever order, on whichever shard or worker.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from harness.scenario import Threshold

_ID = re.compile(r"^(?P<family>[a-z0-9_-]+)(?:\[(?P<params>[^\]]*)\])?::(?P<check>[a-z0-9_-]+)$")


@dataclass(frozen=True)
class Case:
    suite: str
    scenario: Path
    family: str
    check: str
    params: tuple[tuple[str, str], ...]
    severity: str
    runbook: str
    line: int | None
    seed: int
    thresholds: Mapping[str, Threshold] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)  # the family's [params] table

    @property
    def id(self) -> str:
        return format_id(self.family, self.params, self.check)

    def param(self, name: str, default: str | None = None) -> str | None:
        return dict(self.params).get(name, default)


def format_id(family: str, params: tuple[tuple[str, str], ...], check: str) -> str:
    inner = ",".join(f"{k}={v}" for k, v in params)
    return f"{family}[{inner}]::{check}" if params else f"{family}::{check}"


def parse_id(case_id: str) -> tuple[str, tuple[tuple[str, str], ...], str] | None:
    match = _ID.match(case_id)
    if not match:
        return None
    raw = match.group("params") or ""
    params = tuple(tuple(p.split("=", 1)) for p in raw.split(",") if "=" in p)
    return match.group("family"), params, match.group("check")  # type: ignore[return-value]


def case_seed(suite_seed: int, case_id: str) -> int:
    digest = hashlib.sha256(f"{suite_seed}\0{case_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def split_listed_id(text: str) -> tuple[str | None, str]:
    """``(scenario path or None, case id)`` from what ``harness list`` prints or a bare id.

    ``harness list`` prints ``scenarios/app.toml::matrix[fixture=v3]::upgrades``; case ids
    hold ``::`` themselves, so the scenario part is whatever ends in ``.toml`` before them.
    """
    head, sep, rest = text.partition(".toml::")
    if sep and rest and "[" not in head and not head.endswith("]"):
        return head + ".toml", rest
    return None, text
