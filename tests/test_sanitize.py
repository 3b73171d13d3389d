"""harness.reporting.sanitize: any input becomes XML-safe, terminal-safe, visible text."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from harness.reporting.sanitize import clean, one_line

# Every code point, surrogates included (st.characters() leaves category Cs out by default).
ANY_CHAR = st.characters(blacklist_categories=())
ANSI = [
    "\x1b[31m",
    "\x1b[0m",
    "\x1b[1;32;40m",
    "\x1b[38;5;196m",
    "\x1b[38;2;255;0;0m",
    "\x1b[2K",
    "\x1b[?25l",
    "\x1b[10;20H",
    "\x1b]0;window title\x07",
    "\x1b]8;;https://example.com/\x1b\\",
    "\x1bP1$r0m\x1b\\",
    "\x1b(B",
    "\x1b7",
    "\x1bM",
    "\x1b",
]
TEXT = st.one_of(
    st.text(ANY_CHAR),
    st.binary(),
    st.lists(st.one_of(st.text(ANY_CHAR, max_size=5), st.sampled_from(ANSI))).map("".join),
)
# XML 1.0 Char production.
XML_CHAR = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")
TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f]")


def parse_embedded(text: str) -> ET.Element:
    """Embed ``text`` in an element and an attribute the way any XML writer would."""
    return ET.fromstring(f"<r a={quoteattr(text)}>{escape(text)}</r>")


@given(TEXT)
@example("\ud800")
@example("\udcff\udcfe")
@example(b"\xff\xfe\x00")
@example("\x00\x1b[31m\x07<script>&\"'")
@example("\ufffe\uffff\ufdd0\U0001fffe")
def test_any_input_parses_as_xml_element_and_attribute(text):
    out = clean(text)
    assert XML_CHAR.fullmatch(out), ascii(out)
    assert not TERMINAL_UNSAFE.search(out), ascii(out)
    root = parse_embedded(out)
    # Nothing is lost on the way through the parser (bar XML's own line-end normalisation).
    assert (root.text or "") == out.replace("\r\n", "\n").replace("\r", "\n")
    assert root.get("a") == out  # quoteattr writes TAB, LF and CR as character references


@given(TEXT, st.one_of(st.none(), st.integers(0, 300)))
def test_one_line_is_a_single_clean_line(text, limit):
    out = one_line(text, limit)
    assert XML_CHAR.fullmatch(out)
    assert not re.search("[\r\n\u2028\u2029]", out)
    if limit is not None:
        assert len(out) <= limit
    parse_embedded(out)


@given(TEXT)
def test_clean_is_idempotent(text):
    once = clean(text)
    assert clean(once) == once


PLAIN = st.text(st.characters(blacklist_categories=("Cs",)).filter(lambda c: c.isprintable() or c in "\n\t"))


@given(PLAIN)
@example("exit 1: /tmp/a b\\c ~ {x} [31m is not a colour code without ESC \u00e9\u4e2d\U0001f600")
def test_plain_text_is_unchanged(text):
    assert clean(text) == text
    assert clean(text.encode("utf-8")) == text


@given(
    st.text(st.characters(blacklist_characters="\x1b[")),
    st.sampled_from(ANSI),
    st.text(st.characters(blacklist_characters="\x1b[")),
)
def test_ansi_sequences_vanish_completely(before, code, after):
    # A code is followed by a newline: ESC + a letter is itself a two-character escape.
    text = before + code + "\nred" + "\x1b[31m" + after + "\x1b[0m"
    out = clean(text)
    assert "[31m" not in out and "[0m" not in out
    assert "\x1b" not in out and "\\x1b" not in out
    assert clean(before) + "\nred" + clean(after) == out


@pytest.mark.parametrize(
    "text, expected",
    [
        ("\x1b[1;31mERROR\x1b[0m: disk full", "ERROR: disk full"),
        ("\x1b]0;title\x07ok", "ok"),
        ("\x1b]8;;https://x.test/\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("\x1b[2K\rprogress", "\rprogress"),
        ("trailing lone escape\x1b", "trailing lone escape"),
        ("unfinished \x1b[31", "unfinished "),
        ("bell\x07 nul\x00 vt\x0b ff\x0c del\x7f csi8\x9b", "bell\\x07 nul\\x00 vt\\x0b ff\\x0c del\\x7f csi8\\x9b"),
        ("\ufffe\uffff", "\\ufffe\\uffff"),
        ("keep \ufdd0 \U0001fffe \u00e9", "keep \ufdd0 \U0001fffe \u00e9"),
        ("lone \ud800 \udfff", "lone \ufffd \ufffd"),
        ("pair \ud83d\ude00", "pair \U0001f600"),
        (b"bytes \xff\xfe \xe2\x9c\x93", "bytes \ufffd\ufffd \u2713"),
        (None, ""),
        ("tab\tnew\nline\r\n", "tab\tnew\nline\r\n"),
    ],
)
def test_examples(text, expected):
    assert clean(text) == expected


@given(st.text(ANY_CHAR), st.integers(0, 200))
def test_limit_is_respected_and_marked(text, limit):
    full = clean(text)
    out = clean(text, limit)
    assert len(out) <= limit
    if len(full) <= limit:
        assert out == full
    else:
        marker = re.search(r"\u2026 \[truncated (\d+) chars\]\Z", out)
        if marker:
            kept = out[: marker.start()]
            assert full.startswith(kept)
            assert int(marker.group(1)) == len(full) - len(kept)
        else:  # too small for the marker: an ellipsis at least
            assert limit < 25 and out.endswith("\u2026") or limit == 0
        parse_embedded(out)


def test_limit_marker_exact():
    out = clean("x" * 1000, 100)
    assert len(out) == 100
    assert out == "x" * 77 + "\u2026 [truncated 923 chars]"


def test_limit_never_cuts_an_escape_in_half():
    for limit in range(30, 60):
        out = clean("\x07" * 100, limit)
        kept = out.split("\u2026")[0]
        assert re.fullmatch(r"(\\x07)*", kept), (limit, out)


def test_one_line():
    assert one_line("first\r\nsecond\n\n  third\rfourth\u2028fifth\n") == (
        "first \u23ce second \u23ce third \u23ce fourth \u23ce fifth"
    )
    assert one_line("\x1b[31mred\x1b[0m\x00") == "red\\x00"
    assert len(one_line("y" * 1000)) == 300
    assert one_line("y" * 1000).endswith("chars]")
    assert one_line("y" * 1000, None) == "y" * 1000
