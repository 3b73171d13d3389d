"""Splitting SQL into statements with the line each one starts on."""

from __future__ import annotations

from harness.engines.statements import Statement, split


def test_statements_and_their_lines() -> None:
    sql = (
        "-- leading comment; with a semicolon\n"
        "CREATE TABLE a(x);\n"
        "\n"
        "/* block; comment */ INSERT INTO a VALUES (1);  INSERT INTO a VALUES (2);\n"
    )
    assert split(sql) == (
        Statement("CREATE TABLE a(x);", 2),
        Statement("INSERT INTO a VALUES (1);", 4),
        Statement("INSERT INTO a VALUES (2);", 4),
    )


def test_semicolons_in_strings_identifiers_and_comments_do_not_split() -> None:
    sql = (
        "INSERT INTO \"odd;name\" VALUES ('a;b', 'it''s; fine');\n"
        "SELECT 1 -- trailing; comment\n"
        ";\n"
    )
    texts = [s.text for s in split(sql)]
    assert texts == ["INSERT INTO \"odd;name\" VALUES ('a;b', 'it''s; fine');",
                     "SELECT 1 -- trailing; comment\n;"]


def test_a_trigger_body_is_one_statement() -> None:
    sql = (
        "CREATE TABLE log(x);\n"
        "CREATE TRIGGER t AFTER INSERT ON log BEGIN\n"
        "  INSERT INTO log VALUES (1);\n"
        "  UPDATE log SET x = 2;\n"
        "END;\n"
        "BEGIN;\n"
        "COMMIT;\n"
    )
    statements = split(sql)
    assert [s.line for s in statements] == [1, 2, 6, 7]
    assert statements[1].text.endswith("END;") and statements[1].keyword == "CREATE"
    assert [s.keyword for s in statements[2:]] == ["BEGIN", "COMMIT"]


def test_empty_statements_and_trailing_comments_are_dropped() -> None:
    assert split(";;\n-- only a comment\n/* and another */\n") == ()
    assert split("") == ()


def test_an_unterminated_last_statement_is_kept() -> None:
    assert split("CREATE TABLE a(x);\n\nCREATE TABLE b(y)\n") == (
        Statement("CREATE TABLE a(x);", 1), Statement("CREATE TABLE b(y)", 3))
