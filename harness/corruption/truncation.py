"""Files cut short, replaced, blanked or extended."""

from __future__ import annotations

import os
import random

from harness.corruption.catalogue import (
    BENIGN, CORRUPT, NEED_FREE_TAIL, NOT_A_DATABASE, SILENT, DamageSetup, Done, Unsupported, kind,
    require_checkpointed, write_at,
)
from harness.sqlite.pages import Reader


def _last_used_page(r: Reader) -> int:
    free = set(r.freelist().pages)
    n = r.page_count
    while n > 1 and n in free:
        n -= 1
    return n


def _truncate(setup: DamageSetup, size: int) -> None:
    os.truncate(setup.db, size)


@kind("truncate-page-boundary", symptom=CORRUPT, reports=("SQLITE_CORRUPT",),
      description="file truncated at a page boundary, losing pages still in use")
def truncate_page_boundary(setup: DamageSetup, rng: random.Random) -> Done:
    require_checkpointed(setup)
    with Reader(setup.db) as r:
        last = _last_used_page(r)
        size, ps, pages = r.file_size, r.page_size, r.page_count
    if last < 2:
        raise Unsupported("only page 1 is in use: nothing to cut")
    keep = rng.randrange(1, last)
    _truncate(setup, keep * ps)
    return Done(f"{size} -> {keep * ps} bytes: pages {keep + 1}..{pages} gone (last used page: {last})",
                changed=(setup.db,))


@kind("truncate-mid-page", symptom=CORRUPT, reports=("SQLITE_CORRUPT", "rows"),
      description="file truncated inside a page that is in use")
def truncate_mid_page(setup: DamageSetup, rng: random.Random) -> Done:
    require_checkpointed(setup)
    with Reader(setup.db) as r:
        last = _last_used_page(r)
        size, ps = r.file_size, r.page_size
    if last < 2:
        raise Unsupported("only page 1 is in use: nothing to cut")
    page = rng.randrange(2, last + 1)  # the page cut in the middle
    new = (page - 1) * ps + rng.randrange(1, ps)
    _truncate(setup, new)
    return Done(f"{size} -> {new} bytes: page {page} cut after {new - (page - 1) * ps} of {ps} bytes, "
                f"later pages gone", changed=(setup.db,))


@kind("truncate-free-tail", symptom=BENIGN, reports=("ok",), needs=(NEED_FREE_TAIL,),
      description="the last page, a free page, cut by less than a page: SQLite reads the rest as zeros")
def truncate_free_tail(setup: DamageSetup, rng: random.Random) -> Done:
    require_checkpointed(setup)
    with Reader(setup.db) as r:
        free = r.freelist()
        size, ps, pages = r.file_size, r.page_size, r.page_count
    if size % ps or pages not in free.leaves:
        raise Unsupported(f"the last page ({pages}) is not a whole freelist leaf page")
    cut = rng.randrange(1, ps)
    _truncate(setup, size - cut)
    return Done(f"{size} -> {size - cut} bytes: {cut} bytes cut from free page {pages}", changed=(setup.db,))


@kind("truncate-zero", symptom=SILENT, reports=("ok",), seeded=False,
      description="file truncated to zero bytes: SQLite opens it as a new, empty database")
def truncate_zero(setup: DamageSetup, rng: random.Random) -> Done:
    require_checkpointed(setup)
    size = setup.db.stat().st_size
    _truncate(setup, 0)
    return Done(f"{size} -> 0 bytes", changed=(setup.db,), expected={"content_changed_silently": True})


_WORDS = ("error", "log", "user", "config", "timeout", "retry", "ok", "value", "sqlite", "path", "line",
          "warning", "started", "stopped", "the", "a", "of", "data", "file", "not", "found")


@kind("text-file", symptom=NOT_A_DATABASE, reports=("SQLITE_NOTADB",),
      description="the database replaced by a plain text file (a log, a config written to the wrong path)")
def text_file(setup: DamageSetup, rng: random.Random) -> Done:
    require_checkpointed(setup)
    lines = []
    for i in range(rng.randrange(3, 120)):
        lines.append(f"{i:04d} " + " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(2, 14))))
    text = ("\n".join(lines) + "\n").encode()
    size = setup.db.stat().st_size
    with open(setup.db, "r+b") as handle:
        handle.write(text)
        handle.truncate(len(text))
    return Done(f"{size} bytes replaced by {len(text)} bytes of text ({len(lines)} lines)", changed=(setup.db,))


@kind("page1-zeroed", symptom=NOT_A_DATABASE, reports=("SQLITE_NOTADB",), seeded=False,
      description="page 1 (header and sqlite_schema root) overwritten with zeros")
def page1_zeroed(setup: DamageSetup, rng: random.Random) -> Done:
    require_checkpointed(setup)
    with Reader(setup.db) as r:
        ps = r.page_size
    write_at(setup.db, 0, bytes(ps))
    return Done(f"bytes 0..{ps - 1} (page 1) zeroed", changed=(setup.db,))


@kind("appended-garbage", symptom=BENIGN, reports=("ok",),
      description="random bytes appended after the last page: SQLite trusts the in-header size and ignores them")
def appended_garbage(setup: DamageSetup, rng: random.Random) -> Done:
    require_checkpointed(setup)
    with Reader(setup.db) as r:
        header, ps, size = r.header, r.page_size, r.file_size
    if header.version_valid_for != header.change_counter or header.page_count * ps != size:
        raise Unsupported("the in-header page count is not trusted (offset 92 != 24) or disagrees with the "
                          "file size: SQLite would read appended bytes as pages")
    extra = rng.randbytes(rng.randrange(1, 3 * ps))
    with open(setup.db, "ab") as handle:
        handle.write(extra)
    return Done(f"{len(extra)} random bytes appended at offset {size}", changed=(setup.db,))
