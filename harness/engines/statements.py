"""Migration files' statements: ``harness.sql`` splits them (re-exported here for the formats)."""

from harness.sql.statements import Statement, split

__all__ = ["Statement", "split"]
