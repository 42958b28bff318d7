"""observability: runs (the run inspector's records)

Revision ID: 0004_runs
Revises: 0003_documents
Create Date: 2026-11-25 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004_runs'
down_revision: str | None = '0003_documents'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('runs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('trace_id', sa.String(length=32), nullable=True),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('thread_id', sa.String(length=128), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.String(length=64), nullable=True),
    sa.Column('provider', sa.String(length=64), nullable=True),
    sa.Column('model', sa.String(length=200), nullable=True),
    sa.Column('tokens_in', sa.Integer(), nullable=False),
    sa.Column('tokens_out', sa.Integer(), nullable=False),
    sa.Column('cost_usd', sa.Numeric(precision=14, scale=8, asdecimal=False), nullable=False),
    sa.Column('ttft_ms', sa.Numeric(precision=12, scale=3, asdecimal=False), nullable=True),
    sa.Column('total_ms', sa.Numeric(precision=12, scale=3, asdecimal=False), nullable=True),
    sa.Column('timings', sa.JSON(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index('ix_runs_request_id', ['request_id'], unique=False)
        batch_op.create_index('ix_runs_user_time', ['user_id', 'created_at'], unique=False)
        batch_op.create_index('ix_runs_status_time', ['status', 'created_at'], unique=False)
        batch_op.create_index('ix_runs_time', ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index('ix_runs_time')
        batch_op.drop_index('ix_runs_status_time')
        batch_op.drop_index('ix_runs_user_time')
        batch_op.drop_index('ix_runs_request_id')
    op.drop_table('runs')
