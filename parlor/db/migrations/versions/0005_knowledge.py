"""knowledge: documents in threads, object storage keys

Revision ID: 0005_knowledge
Revises: 0004_runs
Create Date: 2026-11-25 18:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0005_knowledge'
down_revision: str | None = '0004_runs'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a thread's attached documents (GET /api/documents?thread_id=, the search scope) without a scan
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index('ix_documents_user_thread', ['user_id', 'thread_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index('ix_documents_user_thread')
