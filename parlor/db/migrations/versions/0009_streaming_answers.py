"""messages: the answers still streaming, indexed (a run's crash is found by looking for them)

Revision ID: 0009_streaming_answers
Revises: 0008_key_last_used
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from parlor.db import online

revision: str = '0009_streaming_answers'
down_revision: str | None = '0008_key_last_used'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STREAMING = sa.text("status = 'streaming'")


def upgrade() -> None:
    # Partial: it holds only the rows of runs under way, a handful however large the table grows.
    online.create_index('ix_messages_streaming', 'messages', ['created_at'], postgresql_where=STREAMING,
                        sqlite_where=STREAMING)


def downgrade() -> None:
    op.drop_index('ix_messages_streaming', table_name='messages')
