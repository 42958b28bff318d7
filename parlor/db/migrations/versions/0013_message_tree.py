"""messages: a tree (versions and branches), each naming its parent; threads: their current leaf

Existing threads become a single branch: each message's parent the one before it, the leaf the last.

Revision ID: 0013_message_tree
Revises: 0012_user_instructions
Create Date: 2026-12-04 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from parlor.db import online

revision: str = '0013_message_tree'
down_revision: str | None = '0012_user_instructions'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = 'fk_messages_parent'
# Each message's parent: the one before it in its thread, by (created_at, id) -- the order the thread was
# read in until now. An index range scan on ix_messages_thread_order per row.
PARENT = ("parent_id = (SELECT p.id FROM messages p WHERE p.thread_id = messages.thread_id "
          "AND (p.created_at, p.id) < (messages.created_at, messages.id) "
          "ORDER BY p.created_at DESC, p.id DESC LIMIT 1)")
LEAF = ("leaf_id = (SELECT m.id FROM messages m WHERE m.thread_id = threads.id "
        "ORDER BY m.created_at DESC, m.id DESC LIMIT 1)")


def upgrade() -> None:
    if not online.has_column('messages', 'parent_id'):  # else a cut run committed this part already
        _columns()
    online.backfill('messages', PARENT, 'parent_id IS NULL')
    online.backfill('threads', LEAF, 'leaf_id IS NULL')
    online.create_index('ix_messages_parent', 'messages', ['parent_id', 'thread_id'])
    if online.on_postgresql():
        _foreign_key()


def _columns() -> None:
    # Nullable, no default: PostgreSQL only notes them in its catalogue (no table rewrite).
    op.add_column('threads', sa.Column('leaf_id', sa.String(36), nullable=True))
    if online.on_postgresql():  # its foreign key comes after the backfill, checked without blocking writes
        op.add_column('messages', sa.Column('parent_id', sa.String(36), nullable=True))
    else:  # SQLite alters no constraint: the table is copied (the embedded mode: one process, a small table)
        with op.batch_alter_table('messages') as batch_op:
            batch_op.add_column(sa.Column('parent_id', sa.String(36), nullable=True))
            batch_op.create_foreign_key(FK, 'messages', ['parent_id'], ['id'])


def _foreign_key() -> None:
    """NOT VALID takes its lock for a moment (no scan); VALIDATE scans holding a lock that lets reads and
    writes through. Each on its own, so a cut run resumes where it stopped."""
    bind = op.get_bind()
    with op.get_context().autocommit_block():
        if bind.execute(sa.text("SELECT 1 FROM pg_constraint WHERE conname = :name"), {"name": FK}).scalar() is None:
            op.execute(f"ALTER TABLE messages ADD CONSTRAINT {FK} FOREIGN KEY (parent_id) REFERENCES messages (id) "
                       "NOT VALID")
        op.execute(f"ALTER TABLE messages VALIDATE CONSTRAINT {FK}")


def downgrade() -> None:
    op.drop_index('ix_messages_parent', table_name='messages')
    with op.batch_alter_table('messages') as batch_op:
        if online.on_postgresql():
            batch_op.drop_constraint(FK, type_='foreignkey')
        batch_op.drop_column('parent_id')
    with op.batch_alter_table('threads') as batch_op:
        batch_op.drop_column('leaf_id')
