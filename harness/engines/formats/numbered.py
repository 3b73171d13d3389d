"""numbered: generic numbered names no framework's pattern takes (``V0001.Name.up.sql``, ``0001.name.sql``).

A home-made runner's convention: an optional letter, the version digits, a separator
(``.``, ``_`` or ``-``), the name, and an optional ``.up`` / ``.down`` before ``.sql``
(``down`` files are not run). Run as the plain format runs its files (numeric order; each
file in a transaction with its history row unless it manages its own transactions or runs a
statement that cannot be wrapped) and recorded in the plain format's history table. Detected
only when some files have such names and every other file fits the pattern too
(``harness.engines.formats.detection``); ``format = "numbered"`` selects it explicitly.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from harness.engines.formats import plain
from harness.engines.formats.base import Format, MigrationFile, Recognised, cannot_be_wrapped, decode
from harness.engines.statements import split

PATTERN = re.compile(r"^[A-Za-z]?(?P<version>\d+)[._-](?P<name>.+?)(?:\.(?P<direction>up|down))?\.sql$",
                     re.IGNORECASE)


class Numbered(Format):
    name = "numbered"
    pattern_text = "<V><digits>.<name>[.up].sql or <digits>.<name>.sql"
    fallback = True
    own_runner = True
    history = plain.FORMAT.history  # the harness's own table, as for plain

    def recognise(self, filename: str) -> Recognised | None:
        match = PATTERN.match(filename)
        if not match:
            return None
        role = "down" if (match["direction"] or "").lower() == "down" else "up"
        return Recognised((int(match["version"]),), match["version"], match["name"].strip("._-") or match["name"],
                          role)

    def claims(self, filename: str, text: str) -> bool:
        return False  # only where no framework's pattern takes the names (see detection)

    def load(self, path: Path, raw: bytes, found: Recognised, version: int) -> MigrationFile:
        text = decode(path, raw)
        return MigrationFile(version, found.name, path, hashlib.sha256(raw).hexdigest(), text,
                             transaction=not cannot_be_wrapped(split(text)))


FORMAT = Numbered()
