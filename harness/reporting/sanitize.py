"""Make arbitrary text safe for XML 1.0 reports and for a terminal, without silently losing it.

Engine output, exception messages and observation values end up in JUnit XML, console
output and CI annotations. They may contain ANSI colour codes, NUL bytes, undecodable
bytes or lone surrogates, any of which either corrupts the XML (junit-xml emits a lone
surrogate as an invalid character reference) or is silently stripped (ANSI colours then
leave ``[31m`` behind). ``clean`` fixes all of that up front:

* ``bytes`` are decoded as UTF-8 with ``errors="replace"``;
* a UTF-16 surrogate pair is joined into its character, a lone surrogate becomes U+FFFD;
* ANSI / VT100 escape sequences (CSI ``ESC [ ... m``, OSC ``ESC ] ... BEL``, DCS / APC /
  PM / SOS strings, two-character escapes and a lone ESC) are removed entirely;
* every other character XML 1.0 forbids (C0 controls except TAB, LF and CR; U+FFFE and
  U+FFFF) and, for the terminal's sake, DEL and the C1 controls U+0080..U+009F, become a
  visible escape such as ``\\x07`` or ``\\ufffe``, so the information is still there;
* with a ``limit`` the result is cut to at most ``limit`` characters, ending in a
  ``… [truncated N chars]`` marker.

Other non-characters (U+FDD0..U+FDEF, U+1FFFE, ...) are legal in XML 1.0 and are kept.

``terminal_text`` / ``terminal_line`` are the same for a console or a CI log, which also
execute what looks like a command: a bare CR (which lets text overwrite a line) is shown
as ``\\r``, and a line that would begin a GitHub Actions workflow command (``::error``,
``::add-mask::``, ``::stop-commands::``, the legacy ``##[...]``) is prefixed with ``·`` so
it is printed, never run. The harness's own annotations are written after this, on purpose.
"""

from __future__ import annotations

import re

__all__ = ["clean", "one_line", "terminal_text", "terminal_line"]

# ECMA-48 escape sequences, 7-bit forms.
_ANSI = re.compile(
    r"""
      \x1b\[ [\x30-\x3f]* [\x20-\x2f]* [\x40-\x7e]?          # CSI: ESC [ params intermediates final
    | \x1b[\]PX^_] [^\x07\x1b\x9c]* (?:\x07|\x1b\\|\x9c)     # OSC / DCS / SOS / PM / APC ... BEL or ST
    | \x1b [\x20-\x2f]* [\x30-\x7e]                          # nF / Fp / Fe / Fs escapes (ESC 7, ESC ( B, ...)
    | \x1b                                                   # a lone ESC
    """,
    re.VERBOSE,
)
_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Not allowed in XML 1.0 (C0 except TAB LF CR; U+FFFE, U+FFFF) or unsafe in a terminal
# (DEL, C1 controls). Surrogates and ESC are handled before this runs.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
# An escape produced by ``_visible`` that a truncation would cut in half.
_PARTIAL_ESCAPE = re.compile(r"\\(?:x[0-9a-f]?|u[0-9a-f]{0,3})?\Z")
_LINE_BREAKS = re.compile(r"\s*(?:\r\n|[\r\n\u2028\u2029])\s*")

NEWLINE_MARK = " \u23ce "  # " ⏎ "
ELLIPSIS = "\u2026"  # "…"


def _join_pair(match: re.Match[str]) -> str:
    high, low = match.group()
    return chr(0x10000 + ((ord(high) - 0xD800) << 10) + (ord(low) - 0xDC00))


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _truncate(text: str, limit: int) -> str:
    if limit < 0:
        raise ValueError(f"limit must be >= 0, not {limit}")
    if len(text) <= limit:
        return text
    # The marker's length depends on N and N on the room the marker leaves: iterate. N only
    # grows and is bounded by len(text), so this settles (in practice within two rounds).
    dropped = len(text) - limit
    while True:
        marker = f"{ELLIPSIS} [truncated {dropped} chars]"
        keep = limit - len(marker)
        if keep < 0:
            break
        kept = _PARTIAL_ESCAPE.sub("", text[:keep])
        if len(text) - len(kept) == dropped:
            return kept + marker
        dropped = len(text) - len(kept)
    # No room for the full marker: keep what fits and end with an ellipsis.
    return _PARTIAL_ESCAPE.sub("", text[: limit - 1]) + ELLIPSIS if limit else ""


def clean(text: str | bytes | None, limit: int | None = None) -> str:
    """Return ``text`` as a string that is valid XML 1.0 character data and terminal-safe.

    ``limit`` (characters, marker included) cuts long text, ending it with
    ``… [truncated N chars]`` where N counts the characters dropped.
    """
    if text is None:
        return ""
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text).decode("utf-8", errors="replace")
    elif not isinstance(text, str):
        text = str(text)
    if _SURROGATE.search(text):
        text = _SURROGATE_PAIR.sub(_join_pair, text)
        text = _SURROGATE.sub("\ufffd", text)
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    text = _UNSAFE.sub(_visible, text)
    if limit is not None:
        text = _truncate(text, limit)
    return text


def one_line(text: str | bytes | None, limit: int | None = 300) -> str:
    """``clean`` for messages and attributes: line breaks become `` ⏎ ``, then ``limit`` applies."""
    text = _LINE_BREAKS.sub(NEWLINE_MARK, clean(text).strip())
    return text if limit is None else _truncate(text, limit)


_BARE_CR = re.compile(r"\r(?!\n)")
_WORKFLOW_COMMAND = re.compile(r"^(\s*)(::|##\[)", re.MULTILINE)
_LEGACY_COMMAND = re.compile(r"##\[")
COMMAND_GUARD = "\u00b7"  # "·"


def _guard_commands(text: str) -> str:
    text = _WORKFLOW_COMMAND.sub(lambda m: f"{m.group(1)}{COMMAND_GUARD}{m.group(2)}", text)
    return _LEGACY_COMMAND.sub("#\u00b7#[", text)  # the legacy form is recognised anywhere in a line


def terminal_text(text: str | bytes | None, limit: int | None = None) -> str:
    """``clean`` for a terminal or CI log: lines kept, bare CRs visible, no line a workflow command."""
    text = _BARE_CR.sub("\\\\r", clean(text)).replace("\r\n", "\n")
    text = _guard_commands(text)
    return text if limit is None else _truncate(text, limit)


def terminal_line(text: str | bytes | None, limit: int | None = 300) -> str:
    """``one_line`` for a terminal or CI log (a single line, so no workflow command can start)."""
    return _guard_commands(one_line(text, limit))
