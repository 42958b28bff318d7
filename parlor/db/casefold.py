"""SQLite's own lower() folds ASCII letters only, so a search for "ÄPFEL" missed "äpfel". Each SQLite
connection gets lower() replaced by Python's `str.casefold` (full Unicode case folding: "ß" matches
"SS"). Its user is the thread search (`icontains`: lower(column) LIKE lower(pattern)); no index is built
on lower(), so none goes stale. PostgreSQL's lower() already folds by the database's locale."""

from __future__ import annotations

from typing import Any


def _casefold(value: object) -> object:
    return value.casefold() if isinstance(value, str) else value  # NULL and numbers as SQLite passes them


def casefold_lower(dbapi_connection: Any, _record: Any) -> None:
    """A "connect" listener: SQLite lets an application function override a built-in of the same name."""
    dbapi_connection.create_function("lower", 1, _casefold, deterministic=True)
