"""Hypothesis strategies drawing random, page-aware damage to a database file.

``damage_strategy(page_map)`` draws a ``DamagePlan``: a kind ("flip", "truncate", "swap")
and a seed, from which the operations are derived deterministically with the page map:

- flip: 1-4 byte flips (XOR with a non-zero mask), each inside a page of a chosen role
  (``leaf-table``, ``interior-index``, ``overflow``, ``freelist-trunk``, the 100-byte
  ``header``, ...) and, in a b-tree page, a chosen region (page header, cell pointer array,
  cell content);
- truncate: at a page boundary or inside a page;
- swap: two pages exchanged.

``plan.apply(path)`` re-applies it byte for byte; ``plan.describe()`` names the seed, the kind
and every operation, and ``plan_from_seed(page_map, seed, kind)`` rebuilds the same plan, so
a failure reproduces from the printed line alone (``hypothesis.note(plan.describe())``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from hypothesis import strategies as st

from harness.sqlite.fileformat import HEADER_SIZE
from harness.sqlite.pages import PageMap

PLAN_KINDS = ("flip", "truncate", "swap")


@dataclass(frozen=True)
class Flip:
    offset: int  # in the file
    mask: int  # XORed into the byte (1..255)
    page: int
    role: str
    region: str

    def describe(self, page_size: int) -> str:
        within = self.offset - (self.page - 1) * page_size
        return (f"flip page {self.page} ({self.role}, {self.region}) byte {within} "
                f"(file offset {self.offset}) ^ 0x{self.mask:02x}")


@dataclass(frozen=True)
class Truncate:
    size: int
    page: int  # the page the cut is in (or after, at a boundary)
    boundary: bool

    def describe(self, page_size: int) -> str:
        where = f"at the end of page {self.page}" if self.boundary else \
            f"inside page {self.page} (byte {self.size - (self.page - 1) * page_size})"
        return f"truncate to {self.size} bytes, {where}"


@dataclass(frozen=True)
class Swap:
    a: int
    b: int
    roles: tuple[str, str]

    def describe(self, page_size: int) -> str:
        return f"swap page {self.a} ({self.roles[0]}) with page {self.b} ({self.roles[1]})"


Op = Union[Flip, Truncate, Swap]


@dataclass(frozen=True)
class DamagePlan:
    seed: int
    kind: str
    page_size: int
    page_count: int
    ops: tuple[Op, ...]

    def apply(self, path: Path | str) -> None:
        """Apply the operations to ``path`` in place (seek and write; deterministic)."""
        with open(path, "r+b") as handle:
            for op in self.ops:
                if isinstance(op, Flip):
                    handle.seek(op.offset)
                    byte = handle.read(1)
                    if not byte:
                        continue  # past the end (an earlier truncation): nothing to flip
                    handle.seek(op.offset)
                    handle.write(bytes([byte[0] ^ op.mask]))
                elif isinstance(op, Truncate):
                    handle.truncate(op.size)
                else:
                    ps = self.page_size
                    handle.seek((op.a - 1) * ps)
                    first = handle.read(ps)
                    handle.seek((op.b - 1) * ps)
                    second = handle.read(ps)
                    handle.seek((op.a - 1) * ps)
                    handle.write(second)
                    handle.seek((op.b - 1) * ps)
                    handle.write(first)

    def describe(self) -> str:
        steps = "; ".join(op.describe(self.page_size) for op in self.ops)
        return (f"DamagePlan(seed={self.seed}, kind={self.kind!r}) on {self.page_count} pages of "
                f"{self.page_size} bytes: {steps} [rebuild: plan_from_seed(page_map, {self.seed}, {self.kind!r})]")


def _roles(page_map: PageMap) -> dict[str, tuple[int, ...]]:
    by_role: dict[str, list[int]] = {}
    for n in range(1, page_map.page_count + 1):
        by_role.setdefault(page_map.role(n), []).append(n)
    return {role: tuple(pages) for role, pages in by_role.items()}


def _regions(page_map: PageMap, page: int, role: str) -> dict[str, tuple[int, int]]:
    """Byte ranges (within the page) of a page's parts, by name."""
    usable = page_map.usable_size
    btree = page_map.pages.get(page)
    if btree is not None:
        hdr = btree.header_offset
        regions = {"page header": (hdr, hdr + btree.header_size)}
        if btree.cell_count:
            start = btree.cell_pointer_offset
            regions["cell pointers"] = (start, start + 2 * btree.cell_count)
            content = min(max(btree.content_start, start + 2 * btree.cell_count), usable - 1)
            regions["cells"] = (content, usable)
        return regions
    if role == "freelist-trunk":
        return {"trunk": (0, min(usable, 8 + 4 * len(page_map.freelist.leaves)))}
    if role == "overflow":
        return {"next pointer": (0, 4), "overflow data": (4, usable)}
    return {"page": (0, page_map.page_size)}


def plan_from_seed(page_map: PageMap, seed: int, kind: str = "flip", *, roles: tuple[str, ...] | None = None,
                   _by_role: dict[str, tuple[int, ...]] | None = None) -> DamagePlan:
    """The plan ``damage_strategy`` draws for (``seed``, ``kind``): deterministic."""
    if kind not in PLAN_KINDS:
        raise ValueError(f"plan kind {kind!r} is none of {PLAN_KINDS}")
    rng = random.Random(f"plan/{kind}/{seed}")
    ps, count = page_map.page_size, page_map.page_count
    by_role = _by_role if _by_role is not None else _roles(page_map)
    available = sorted(r for r in by_role if roles is None or r in roles)
    ops: list[Op] = []
    if kind == "flip":
        choices = available + (["header"] if roles is None or "header" in roles else [])
        if not choices:
            raise ValueError(f"no page has a role in {roles}")
        used: set[int] = set()
        for _ in range(rng.randint(1, 4)):
            role = rng.choice(choices)
            if role == "header":
                page, region, (lo, hi) = 1, "database header", (0, HEADER_SIZE)
            else:
                page = rng.choice(by_role[role])
                regions = _regions(page_map, page, role)
                region = rng.choice(sorted(regions))
                lo, hi = regions[region]
            offset = (page - 1) * ps + rng.randrange(lo, max(hi, lo + 1))
            if offset in used:
                continue  # a second flip of the same byte could undo the first
            used.add(offset)
            mask = 1 << rng.randrange(8) if rng.random() < 0.5 else rng.randrange(1, 256)
            ops.append(Flip(offset, mask, page, role, region))
    elif kind == "truncate":
        if count < 2:
            raise ValueError("a one-page file has nothing to truncate but itself")
        page = rng.randrange(1, count)
        if rng.random() < 0.5:
            ops.append(Truncate(page * ps, page, True))
        else:
            page += 1
            ops.append(Truncate((page - 1) * ps + rng.randrange(1, ps), page, False))
    else:
        if count < 3:
            raise ValueError("fewer than two pages besides page 1 to swap")
        pool = [n for role in available for n in by_role[role] if n != 1] or list(range(2, count + 1))
        a = rng.choice(pool)
        others = [n for n in range(2, count + 1) if n != a]
        if page_map.role(a) == "freelist-leaf":  # two free pages exchanged damage nothing SQLite reads
            others = [n for n in others if page_map.role(n) != "freelist-leaf"] or others
        b = rng.choice(others)
        ops.append(Swap(a, b, (page_map.role(a), page_map.role(b))))
    return DamagePlan(seed, kind, ps, count, tuple(ops))


def damage_strategy(page_map: PageMap, *, kinds: tuple[str, ...] = PLAN_KINDS,
                    roles: tuple[str, ...] | None = None) -> st.SearchStrategy[DamagePlan]:
    """Plans of the given ``kinds``; flips (and swaps) only in pages of ``roles`` if given."""
    by_role = _roles(page_map)
    return st.builds(lambda seed, kind: plan_from_seed(page_map, seed, kind, roles=roles, _by_role=by_role),
                     st.integers(min_value=0, max_value=2 ** 32 - 1), st.sampled_from(kinds))


__all__ = ["DamagePlan", "Flip", "PLAN_KINDS", "Swap", "Truncate", "damage_strategy", "plan_from_seed"]
