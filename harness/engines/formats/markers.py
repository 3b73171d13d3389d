"""In-file markers that tell one framework's migration files from another's."""

from __future__ import annotations

import re

#: goose: ``-- +goose Up`` (annotations are matched case-insensitively, with no indentation).
GOOSE_UP = re.compile(r"(?im)^--\s*\+goose\s+up\s*$")
#: dbmate: ``-- migrate:up`` optionally followed by options (dbmate's own ``upRegExp``).
DBMATE_UP = re.compile(r"(?m)^--\s*migrate:up(\s*$|\s+\S+)")
#: sqlx: the file's text starts with ``-- no-transaction`` (sqlx's ``starts_with``).
SQLX_NO_TX = "-- no-transaction"


def goose_up(text: str) -> bool:
    return GOOSE_UP.search(text.removeprefix("\ufeff")) is not None


def dbmate_up(text: str) -> bool:
    return DBMATE_UP.search(text.removeprefix("\ufeff")) is not None


def sqlx_no_tx(text: str) -> bool:
    """As sqlx tests it: on the text as read, so a byte-order mark hides the marker."""
    return text.startswith(SQLX_NO_TX)


def any_framework_marker(text: str) -> bool:
    """Whether ``text`` carries a marker that only one framework's runner understands."""
    return goose_up(text) or dbmate_up(text) or sqlx_no_tx(text)
