"""The one SQL lexer and statement splitter (harness.sql): SQLite's token rules, spans, lines,
trigger bodies, and text SQLite would refuse, which must still lex without crashing or looping."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.sql import (
    BLOB, COMMENT, IDENT, NUMBER, OP, PARAM, SPACE, STRING, WORD, Statement, is_keyword, split, tokenize,
)


def kinds(sql: str) -> list[tuple[str, str]]:
    return [(t.kind, t.text) for t in tokenize(sql)]


# --- each token class ------------------------------------------------------------------------


@pytest.mark.parametrize("sql, kind", [
    ("select", WORD), ("_x1$y", WORD), ("naïve", WORD), ("\ufeffCREATE", WORD),
    ("'text'", STRING), ("''", STRING), ("'it''s'", STRING), ("'a;b -- c /* d'", STRING),
    ('"quoted"', IDENT), ('"a""b"', IDENT), ("`tick`", IDENT), ("`a``b`", IDENT), ("[br a\"cket]", IDENT),
    ("x'0aFF'", BLOB), ("X''", BLOB),
    ("0", NUMBER), ("42", NUMBER), ("1.5", NUMBER), ("1.", NUMBER), (".5", NUMBER), ("1e10", NUMBER),
    ("2.5E-3", NUMBER), ("7e+2", NUMBER), ("0x1F", NUMBER), ("0XdeadBEEF", NUMBER), ("1_000", NUMBER),
    ("?", PARAM), ("?12", PARAM), (":name", PARAM), ("@name", PARAM), ("$name", PARAM), ("#n", PARAM),
    ("$ns::var", PARAM), ("$arr(key)", PARAM), (":1", PARAM),
    ("->>", OP), ("->", OP), ("||", OP), ("<<", OP), (">>", OP), ("<=", OP), (">=", OP), ("<>", OP),
    ("!=", OP), ("==", OP), ("=", OP), ("(", OP), (";", OP), (".", OP), ("~", OP), ("!", OP), ("-", OP),
])
def test_each_token_class_is_one_token_of_its_kind(sql: str, kind: str) -> None:
    assert kinds(sql) == [(kind, sql)]


def test_trivia_is_dropped_unless_asked_for() -> None:
    sql = "a -- line\n/* block */\tb"
    assert kinds(sql) == [(WORD, "a"), (WORD, "b")]
    assert [(t.kind, t.text) for t in tokenize(sql, trivia=True)] == [
        (WORD, "a"), (SPACE, " "), (COMMENT, "-- line"), (SPACE, "\n"), (COMMENT, "/* block */"),
        (SPACE, "\t"), (WORD, "b")]


def test_mixed_statement() -> None:
    sql = "x'ab' 1.5e-3 ?1 :a a->>'$.x' [odd] \"q\"\"x\" 0x1F -- c\n/* d */ ;"
    assert [t.text for t in tokenize(sql)] == [
        "x'ab'", "1.5e-3", "?1", ":a", "a", "->>", "'$.x'", "[odd]", '"q""x"', "0x1F", ";"]


# --- edge cases ------------------------------------------------------------------------------


def test_keywords_inside_literals_and_comments_are_not_words() -> None:
    sql = "SELECT 'BEGIN', \"COMMIT\", [END], `VACUUM` -- PRAGMA\n/* DROP */"
    assert [t.word for t in tokenize(sql) if t.kind == WORD] == ["SELECT"]


def test_x_is_a_word_unless_a_quote_follows() -> None:
    assert kinds("x 'ab'") == [(WORD, "x"), (STRING, "'ab'")]
    assert kinds("max'ab'") == [(WORD, "max"), (STRING, "'ab'")]
    assert kinds("x'ab'") == [(BLOB, "x'ab'")]


def test_names_are_unquoted_and_compared_lower_cased() -> None:
    assert [t.unquoted for t in tokenize("Plain \"Dq\"\"x\" [Br\"]  `Bt``x` 'Str''s'")] == [
        "Plain", 'Dq"x', 'Br"', "Bt`x", "Str's"]
    assert [t.name for t in tokenize("Plain \"Dq\"")] == ["plain", "dq"]
    assert [t.name for t in tokenize("1 x'00' ? (")] == [None, None, None, None]
    assert tokenize("[a]]")[0].unquoted == "a"  # brackets have no escape: "]" ends the name


def test_words_are_upper_cased_only_when_bare() -> None:
    assert [t.word for t in tokenize('begin "begin" [begin]')] == ["BEGIN", None, None]
    assert is_keyword("trigger") and not is_keyword("runs")


@pytest.mark.parametrize("sql, value", [
    ("'it''s'", "it's"), ("''", ""), ("x'00FF'", b"\x00\xff"), ("X''", b""),
    ("42", 42), ("1_000_000", 1000000), ("1.5", 1.5), (".5", 0.5), ("1.", 1.0), ("1e3", 1000.0),
    ("2.5E-1", 0.25), ("0x10", 16), ("0x7FFFFFFFFFFFFFFF", 2**63 - 1), ("0xFFFFFFFFFFFFFFFF", -1),
    ("0x8000000000000000", -(2**63)), ("9223372036854775807", 2**63 - 1),
    ("9223372036854775808", 9.223372036854775808e18),
])
def test_literal_values_are_read_as_sqlite_reads_them(sql: str, value: object) -> None:
    token, = tokenize(sql)
    assert token.value == value and type(token.value) is type(value)
    separators = "_" in sql and sqlite3.sqlite_version_info < (3, 46, 0)  # digit separators came in 3.46
    if isinstance(value, (int, float)) and not separators:
        assert sqlite3.connect(":memory:").execute(f"SELECT {sql}").fetchone()[0] == value


@pytest.mark.parametrize("sql", ["x'0'", "x'zz'", "x'ab", "12abc", "1e", "0x", "0xg1", "1__0", "1_",
                                 "0x10000000000000000", "'open"])
def test_malformed_literals_keep_their_span_and_have_no_value(sql: str) -> None:
    token, = tokenize(sql)
    assert token.text == sql
    assert token.value is None or not token.terminated


def test_numbers_take_their_exponent_only_with_digits_and_glue_letters() -> None:
    assert kinds("1e+5") == [(NUMBER, "1e+5")]
    assert kinds("1e+x") == [(NUMBER, "1e"), (OP, "+"), (WORD, "x")]
    assert kinds("1.5.3") == [(NUMBER, "1.5"), (NUMBER, ".3")]
    assert kinds("a.b") == [(WORD, "a"), (OP, "."), (WORD, "b")]
    assert kinds("t.5") == [(WORD, "t"), (NUMBER, ".5")]  # as SQLite reads it
    assert kinds("0x1.5") == [(NUMBER, "0x1"), (NUMBER, ".5")]
    assert kinds("?1abc") == [(PARAM, "?1"), (WORD, "abc")]


def test_lone_parameter_prefixes_are_operators() -> None:
    assert kinds(": @ $") == [(OP, ":"), (OP, "@"), (OP, "$")]
    assert kinds("x::int") == [(WORD, "x"), (OP, ":"), (PARAM, ":int")]


def test_minus_minus_is_a_comment_and_arrows_are_operators() -> None:
    assert kinds("a--b\nc") == [(WORD, "a"), (WORD, "c")]
    assert kinds("a->b->>c-d") == [(WORD, "a"), (OP, "->"), (WORD, "b"), (OP, "->>"), (WORD, "c"),
                                   (OP, "-"), (WORD, "d")]


def test_block_comments_do_not_nest_and_need_their_own_star_slash() -> None:
    assert kinds("/* a /* b */ c */") == [(WORD, "c"), (OP, "*"), (OP, "/")]
    assert kinds("/*/ x */ y") == [(WORD, "y")]
    assert kinds("/**/z") == [(WORD, "z")]


def test_sqlite_whitespace_only() -> None:
    assert kinds("a\v\f\r\n\tb") == [(WORD, "a"), (WORD, "b")]
    assert kinds("a\u00a0b") == [(WORD, "a\u00a0b")]  # SQLite: any non-ASCII character is a name's


def test_parenthesis_depth() -> None:
    tokens = tokenize("f(a, (b)) )")
    assert [(t.text, t.depth) for t in tokens] == [
        ("f", 0), ("(", 0), ("a", 1), (",", 1), ("(", 1), ("b", 2), (")", 1), (")", 0), (")", 0)]


# --- spans and lines -------------------------------------------------------------------------


def test_offsets_and_lines() -> None:
    sql = "SELECT 'a\nb',\n  -- c\n  \"d\"\n/* e\n f */ g"
    tokens = tokenize(sql)
    assert [(t.text, t.line) for t in tokens] == [("SELECT", 1), ("'a\nb'", 1), (",", 2), ('"d"', 4), ("g", 6)]
    assert all(sql[t.start:t.end] == t.text for t in tokens)
    assert [t.line for t in tokenize("a\nb", first_line=10)] == [10, 11]


def test_statement_tokens_carry_file_lines_and_statement_offsets() -> None:
    first, second = split("-- head\nCREATE TABLE a(x);\n\nINSERT INTO a\nVALUES (1);")
    assert (first.line, first.start, second.line) == (2, 8, 4)
    assert [(t.text, t.line) for t in second.tokens][-5:] == [("VALUES", 5), ("(", 5), ("1", 5), (")", 5), (";", 5)]
    assert second.text[second.tokens[-2].start:second.tokens[-2].end] == ")"


# --- unterminated text -----------------------------------------------------------------------


@pytest.mark.parametrize("sql, kind", [
    ("'abc", STRING), ("'abc''", STRING), ("'", STRING), ('"abc', IDENT), ("`abc", IDENT), ("[abc", IDENT),
    ("x'ab", BLOB), ("/* abc", COMMENT), ("/*", COMMENT), ("/*/", COMMENT),
])
def test_unterminated_runs_to_the_end_and_says_so(sql: str, kind: str) -> None:
    tokens = tokenize("SELECT " + sql + "; more; text", trivia=True)
    assert tokens[-1].kind == kind and tokens[-1].text == sql + "; more; text"
    assert not tokens[-1].terminated


def test_terminated_quotes_are_told_from_doubled_ones() -> None:
    assert [t.terminated for t in tokenize("'' '''' 'a''' \"\" [] `x` x'' /**/")] == [True] * 7
    assert [t.terminated for t in tokenize("'a''", trivia=True)] == [False]


def test_huge_unterminated_inputs_lex_in_linear_time() -> None:
    for opener in ("'", '"', "`", "[", "/*", "x'", "-- "):
        text = opener + ("ab;'' \n" * 20000)
        tokens = tokenize(text, trivia=True)
        assert "".join(t.text for t in tokens) == text


def test_scan_reads_only_as_far_as_asked() -> None:
    from harness.sql import scan

    sql = "/* c */ INSERT INTO t VALUES (" + ", ".join(["x'00ff'"] * 200000) + ")"
    tokens = scan(sql)
    assert [next(tokens).word, next(tokens).word] == ["INSERT", "INTO"]
    assert list(scan("a (b)", trivia=True)) == tokenize("a (b)", trivia=True)


# --- statements ------------------------------------------------------------------------------


def test_statements_end_at_semicolons_outside_literals() -> None:
    sql = "INSERT INTO \"a;b\" VALUES ('c;d', [e;f], `g;h`) -- i;j\n; /* k;l */ SELECT 1;"
    assert [s.text for s in split(sql)] == [
        "INSERT INTO \"a;b\" VALUES ('c;d', [e;f], `g;h`) -- i;j\n;", "SELECT 1;"]


def test_trigger_bodies_are_kept_whole() -> None:
    trigger = ("CREATE TEMP TRIGGER t AFTER INSERT ON a BEGIN\n"
               "  UPDATE a SET x = CASE WHEN new.x > 0 THEN 1 ELSE 2 END;\n"
               "  INSERT INTO log VALUES ('end;');\n"
               "END;")
    statements = split("CREATE TABLE a(x);\n" + trigger + "\nSELECT 1;")
    assert [s.text for s in statements] == ["CREATE TABLE a(x);", trigger, "SELECT 1;"]
    assert [s.line for s in statements] == [1, 2, 6]
    assert [s.keyword for s in statements] == ["CREATE", "CREATE", "SELECT"]


def test_only_create_trigger_opens_a_body() -> None:
    sql = "CREATE TABLE trigger(x); CREATE TEMPORARY TRIGGER g BEFORE DELETE ON a BEGIN SELECT 1; END; END;"
    assert [s.text for s in split(sql)] == [
        "CREATE TABLE trigger(x);",
        "CREATE TEMPORARY TRIGGER g BEFORE DELETE ON a BEGIN SELECT 1; END;", "END;"]
    assert [s.text for s in split("EXPLAIN CREATE TRIGGER g AFTER INSERT ON a BEGIN SELECT 1; END; X;")] == [
        "EXPLAIN CREATE TRIGGER g AFTER INSERT ON a BEGIN SELECT 1; END;", "X;"]


def test_an_unclosed_trigger_or_string_is_the_last_statement() -> None:
    assert [s.text for s in split("SELECT 1; CREATE TRIGGER g AFTER INSERT ON a BEGIN SELECT 2; -- x\n")] == [
        "SELECT 1;", "CREATE TRIGGER g AFTER INSERT ON a BEGIN SELECT 2;"]
    assert [s.text for s in split("SELECT 'a;b")] == ["SELECT 'a;b"]
    assert split("SELECT 1; /* open; comment") == (Statement("SELECT 1;", 1),)


def test_keyword_of_a_statement() -> None:
    assert [s.keyword for s in split("begin; (SELECT 1); \"x\";")] == ["BEGIN", "", ""]


# --- properties ------------------------------------------------------------------------------

_PIECES = st.sampled_from([
    " ", "\n", "\t", ";", "'", "''", '"', "`", "[", "]", "x'", "--", "/*", "*/", "-", "/", "*", "(", ")", ".",
    "a", "x", "1", "0x", "e", "_", "$", ":", "?", "@", "#", "é", "\u00a0", "\ufeff",
    " CREATE ", " TRIGGER ", " TEMP ", " BEGIN ", " END ", " EXPLAIN ", " CASE ", " SELECT 1", " t ",
])
_SQL_TEXT = st.one_of(st.text(max_size=80), st.lists(_PIECES, max_size=40).map("".join))


@settings(max_examples=400, deadline=None)
@given(_SQL_TEXT)
def test_lexing_loses_no_character(sql: str) -> None:
    tokens = tokenize(sql, trivia=True)
    assert "".join(t.text for t in tokens) == sql
    assert all(a.end == b.start for a, b in zip(tokens, tokens[1:]))
    assert all(t.line == sql.count("\n", 0, t.start) + 1 for t in tokens)
    assert [t for t in tokens if t.kind not in (SPACE, COMMENT)] == tokenize(sql)


@settings(max_examples=400, deadline=None)
@given(_SQL_TEXT)
def test_splitting_and_rejoining_loses_no_byte(sql: str) -> None:
    statements = split(sql)
    pieces: list[str] = []
    position = 0
    for statement in statements:
        gap = sql[position:statement.start]
        assert all(t.kind in (SPACE, COMMENT) or t.is_op(";") for t in tokenize(gap, trivia=True))
        assert sql[statement.start:statement.end] == statement.text
        assert statement.line == sql.count("\n", 0, statement.start) + 1
        assert statement.text and not statement.text.startswith(";")
        pieces += [gap, statement.text]
        position = statement.end
    tail = sql[position:]
    assert all(t.kind in (SPACE, COMMENT) or t.is_op(";") for t in tokenize(tail, trivia=True))
    assert "".join(pieces) + tail == sql


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_statements_end_where_sqlite_says_a_statement_is_complete(sql: str) -> None:
    for statement in split(sql):
        semicolons = [t for t in statement.tokens if t.is_op(";")]
        if statement.text.endswith(";") and semicolons and semicolons[-1].end == len(statement.text):
            assert sqlite3.complete_statement(statement.text)
            assert not any(sqlite3.complete_statement(statement.text[:t.end]) for t in semicolons[:-1])
        else:
            assert not any(sqlite3.complete_statement(statement.text[:t.end]) for t in semicolons)
