"""Steps for migrations that run while the fleet serves (PostgreSQL): none holds a lock that stops
readers or writers of a big table for longer than one short statement. On SQLite (one process, the
embedded mode) each is the plain step inside the migration's transaction.

A migration using them commits its DDL before them, so a run cut in the middle leaves that DDL in place
without its revision recorded: the next `parlor migrate` runs the migration again, and each step here
is written to be run twice (the migration guards its DDL with `has_column`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

BATCH_ROWS = 10_000  # one batch's row locks are held for one short transaction


def on_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def has_column(table: str, column: str) -> bool:
    """Whether an earlier, interrupted run of this migration committed its DDL already."""
    return column in {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def create_index(name: str, table: str, columns: Sequence[str], **kw: Any) -> None:
    """CREATE INDEX CONCURRENTLY: writes go on while it builds (a plain one blocks them all along).
    It cannot run in a transaction, so it commits what the migration did so far."""
    if not on_postgresql():
        op.create_index(name, table, columns, **kw)
        return
    with op.get_context().autocommit_block():
        _drop_if_invalid(name)
        # Waiting for its lock blocks no reader or writer, only other DDL: no lock_timeout for it.
        op.execute("SET lock_timeout = 0")
        try:
            op.create_index(name, table, columns, postgresql_concurrently=True, if_not_exists=True, **kw)
        finally:
            op.execute("RESET lock_timeout")


def _drop_if_invalid(name: str) -> None:
    """A concurrent build that was cut leaves an invalid index behind, which IF NOT EXISTS would keep."""
    valid = op.get_bind().execute(sa.text(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = :name"),
        {"name": name}).scalar()
    if valid is False:
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')


def backfill(table: str, assignment: str, where: str) -> None:
    """UPDATE table SET assignment WHERE where, in batches of BATCH_ROWS walked along the primary key
    `id`, each its own transaction: readers never wait, a writer waits for one batch at most."""
    if not on_postgresql():
        op.execute(f"UPDATE {table} SET {assignment} WHERE {where}")
        return
    bind = op.get_bind()
    with op.get_context().autocommit_block():
        last = ""
        while True:
            upper = bind.execute(sa.text(f"SELECT id FROM {table} WHERE id > :last ORDER BY id "
                                         "LIMIT 1 OFFSET :skip"), {"last": last, "skip": BATCH_ROWS - 1}).scalar()
            if upper is None:  # the last, short batch
                bind.execute(sa.text(f"UPDATE {table} SET {assignment} WHERE id > :last AND ({where})"),
                             {"last": last})
                return
            bind.execute(sa.text(f"UPDATE {table} SET {assignment} WHERE id > :last AND id <= :upper "
                                 f"AND ({where})"), {"last": last, "upper": upper})
            last = upper
