"""Strict reading of the harness's TOML files (scenarios, fixture manifests).

``tomllib`` gives values but no positions; this module keeps a map from dotted key to the
line that defines it, so every complaint names the file, the line and the key.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import re
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, TypeVar

from harness.errors import InputError

T = TypeVar("T")

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
        """The line of ``key``, else of its first sub-key (an implicit table such as ``a.b`` of
        ``[a.b.c]``), else of the nearest enclosing table that has one."""
        if key in self.lines:
            return self.lines[key]
        inner = [n for k, n in self.lines.items() if k.startswith(key + ".")] if key else []
        if inner:
            return min(inner)
        probe = key.rpartition(".")[0]
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


# -- typed tables: a dataclass declares the keys, their types and their ranges -------------

ErrorAt = Callable[[str, str], Exception]  # (full dotted key, problem) -> the error to raise


def suggest(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, else nothing."""
    hint = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean '{hint[0]}'?)" if hint else ""


def _convert(value: Any, hint: Any, key: str, error: ErrorAt) -> Any:
    """``value`` as the type ``hint`` names (str, int, float, bool, tuple[X, ...], Mapping[str, X], Any)."""
    if hint is Any or hint is object:
        return value
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None and len(options) < len(typing.get_args(hint)):
            return None
        for option in options:
            try:
                return _convert(value, option, key, _Reject.raise_)
            except _Reject:
                continue
        raise error(key, f"expected {' or '.join(_name(o) for o in options)}, got {_describe(value)} {value!r:.60}")
    if origin in (tuple, list, collections.abc.Sequence):
        if not isinstance(value, list):
            raise error(key, f"expected an array, got {_describe(value)} {value!r:.60}")
        item = (typing.get_args(hint) or (Any,))[0]
        return tuple(_convert(x, item, f"{key}[{i}]", error) for i, x in enumerate(value))
    if origin in (dict, collections.abc.Mapping) or hint in (dict, collections.abc.Mapping):
        if not isinstance(value, dict):
            raise error(key, f"expected a table, got {_describe(value)} {value!r:.60}")
        item = (typing.get_args(hint) or (str, Any))[1]
        return {k: _convert(x, item, f"{key}.{k}", error) for k, x in value.items()}
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (str, int, float, bool) and not (isinstance(value, hint) and
                                               (hint is bool or not isinstance(value, bool))):
        raise error(key, f"expected {_name(hint)}, got {_describe(value)} {value!r:.60}")
    return value


class _Reject(Exception):
    @staticmethod
    def raise_(key: str, problem: str) -> Exception:
        return _Reject(problem)


def _name(hint: Any) -> str:
    if hint in (str, int, float, bool):
        return _describe(hint())
    origin = typing.get_origin(hint)
    if origin in (tuple, list, collections.abc.Sequence):
        return "an array"
    if origin in (dict, collections.abc.Mapping) or hint in (dict, collections.abc.Mapping):
        return "a table"
    return getattr(hint, "__name__", str(hint))


def read_dataclass(cls: type[T], table: Mapping[str, Any], where: str, error: ErrorAt) -> T:
    """Build ``cls`` (a dataclass) from a TOML table: every key known, every value typed, in range.

    A field's ``metadata`` may bound it: ``{"min": 0}``, ``{"max": 1.0}``, ``{"choices": (...)}``.
    Unknown keys name the closest known one; missing keys take the field's default.
    """
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, raw in table.items():
        full = f"{where}.{key}"
        if key not in known:
            expected = ", ".join(known) or "none"
            raise error(full, f"unknown key{suggest(key, known)}; expected one of: {expected}")
        value = _convert(raw, hints[key], full, error)
        meta = known[key].metadata
        if "min" in meta and isinstance(value, (int, float)) and value < meta["min"]:
            raise error(full, f"must be at least {meta['min']}, got {value}")
        if "max" in meta and isinstance(value, (int, float)) and value > meta["max"]:
            raise error(full, f"must be at most {meta['max']}, got {value}")
        if "choices" in meta and value not in meta["choices"]:
            raise error(full, f"'{value}' is not allowed{suggest(str(value), meta['choices'])}; "
                        f"expected one of: {', '.join(meta['choices'])}")
        values[key] = value
    return cls(**values)
