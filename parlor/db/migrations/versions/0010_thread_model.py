"""threads: the model the user chose for the thread (sticky across its turns)

Revision ID: 0010_thread_model
Revises: 0009_streaming_answers
Create Date: 2026-12-04 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010_thread_model'
down_revision: str | None = '0009_streaming_answers'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: PostgreSQL only notes it in its catalogue (no table rewrite; the brief lock
    # it takes waits no longer than lock_timeout, then the migration gives way and tries again).
    op.add_column('threads', sa.Column('model', sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('threads') as batch_op:
        batch_op.drop_column('model')
