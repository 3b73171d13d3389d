"""A reliability gate for applications that keep their data in SQLite."""

__version__ = "0.1.0"
