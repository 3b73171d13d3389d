"""Splitting a run into shards: deterministic, every case in exactly one shard."""

from __future__ import annotations

import re
from typing import Sequence


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> (2, 4); anything else is a ValueError naming what was expected."""
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise ValueError(f"{text!r}: expected I/N with 1 <= I <= N, e.g. 2/4")
    return int(match.group(1)), int(match.group(2))


def shard_members(nodeids: Sequence[str], index: int, count: int) -> list[str]:
    """Shard ``index`` of ``count`` (1-based): round-robin over the sorted node ids, so shards
    differ in size by at most one and a case's shard depends only on the set of cases."""
    return [nodeid for pos, nodeid in enumerate(sorted(nodeids)) if pos % count == index - 1]
