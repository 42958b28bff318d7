"""shares: read-only links to a snapshot of one chat

Revision ID: 0014_shares
Revises: 0013_message_tree
Create Date: 2026-12-04 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014_shares'
down_revision: str | None = '0013_message_tree'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A new table: nobody reads or writes it yet, so its indexes are built with it (no lock on others;
    # the foreign keys take a brief SHARE ROW EXCLUSIVE on threads and users, within lock_timeout).
    op.create_table('shares',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('thread_id', sa.String(length=128), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('through_message_id', sa.String(length=36), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['thread_id'], ['threads.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index('ix_shares_thread', 'shares', ['thread_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_shares_thread', table_name='shares')
    op.drop_table('shares')
