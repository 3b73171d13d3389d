"""Strict reading of the harness's TOML files (scenarios, fixture manifests).

``tomllib`` gives values but no positions; this module keeps a map from dotted key to the
line that defines it, so every complaint names the file, the line and the key.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from harness.errors import InputError

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_\-.]+(?:\s*\.\s*[A-Za-z0-9_\-"']+)*)\s*=""")


def _dotted(raw: str) -> str:
    parts = [p.strip().strip("\"'") for p in re.split(r"\.(?=(?:[^\"']*[\"'][^\"']*[\"'])*[^\"']*$)", raw)]
    return ".".join(parts)


def key_lines(text: str) -> dict[str, int]:
    """Dotted key (``checks.install.severity``; arrays of tables as ``fixture.2.name``) -> line."""
    lines: dict[str, int] = {}
    table = ""
    array_counts: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            name = _dotted(header.group(2))
            if header.group(1) == "[[":
                index = array_counts.get(name, 0)
                array_counts[name] = index + 1
                table = f"{name}.{index}"
            else:
                table = name
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            full = f"{table}.{_dotted(key.group(1))}" if table else _dotted(key.group(1))
            lines.setdefault(full, number)
    return lines


@dataclass(frozen=True)
class TomlDoc:
    path: Path
    data: Mapping[str, Any]
    lines: Mapping[str, int]

    def line(self, key: str) -> int | None:
        """The line of ``key``, else of the nearest enclosing table that has one."""
        probe = key
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe.rpartition(".")[0]
        return None

    def error(self, key: str, problem: str) -> InputError:
        return InputError(self.path, problem, line=self.line(key), key=key or None)


def load(path: Path) -> TomlDoc:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"is not UTF-8 text (byte {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        line = int(match.group(1)) if match else None
        raise InputError(path, f"invalid TOML: {message}", line=line) from None
    return TomlDoc(path, data, key_lines(text))


# -- typed access -------------------------------------------------------------------------


def _describe(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


def check_keys(doc: TomlDoc, where: str, table: Mapping[str, Any], allowed: Iterable[str]) -> None:
    allowed = list(allowed)
    for key in table:
        if key not in allowed:
            full = f"{where}.{key}" if where else key
            hint = difflib.get_close_matches(key, allowed, n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            expected = ", ".join(sorted(allowed)) or "no keys"
            raise doc.error(full, f"unknown key{suggestion}; expected one of: {expected}")


def get(
    doc: TomlDoc,
    where: str,
    table: Mapping[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    default: Any = None,
    *,
    required: bool = False,
) -> Any:
    full = f"{where}.{key}" if where else key
    if key not in table:
        if required:
            raise doc.error(where or key, f"missing required key '{full}'")
        return default
    value = table[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok and float in kinds and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        expected = " or ".join(_describe(k()) if k is not tuple else "an array" for k in kinds)
        raise doc.error(full, f"expected {expected}, got {_describe(value)} {value!r:.60}")
    return value


def get_str_list(doc: TomlDoc, where: str, table: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = get(doc, where, table, key, list, [])
    for item in value:
        if not isinstance(item, str):
            raise doc.error(f"{where}.{key}", f"expected an array of strings, found {_describe(item)} {item!r:.60}")
    return tuple(value)


def get_choice(doc: TomlDoc, where: str, table: Mapping[str, Any], key: str,
               choices: Iterable[str], default: str | None = None, *, required: bool = False) -> Any:
    value = get(doc, where, table, key, str, default, required=required)
    choices = list(choices)
    if value is not None and value not in choices:
        hint = difflib.get_close_matches(value, choices, n=1)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
        raise doc.error(f"{where}.{key}" if where else key,
                        f"'{value}' is not allowed{suggestion}; expected one of: {', '.join(choices)}")
    return value
