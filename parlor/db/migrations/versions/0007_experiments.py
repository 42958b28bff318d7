"""experiments and feedback

Revision ID: 0007_experiments
Revises: 0006_security
Create Date: 2026-11-25 18:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from parlor.db import online

revision: str = '0007_experiments'
down_revision: str | None = '0006_security'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if not online.has_column('runs', 'trigger'):  # else a cut run committed this part already
        _tables()
    # Threads that exist already started outside every experiment: they stay so (no change mid-conversation).
    online.backfill('threads', "experiment = ''", 'experiment IS NULL')
    online.create_index('ix_runs_experiment', 'runs', ['experiment', 'variant', 'ttft_ms'])


def _tables() -> None:
    op.create_table('experiments',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('feedback',
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('thread_id', sa.String(length=128), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('rating', sa.String(length=8), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['thread_id'], ['threads.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('message_id')
    )
    op.create_index('ix_feedback_request', 'feedback', ['request_id'], unique=False)
    op.create_index('ix_feedback_thread', 'feedback', ['thread_id'], unique=False)
    for table in ('threads', 'runs', 'usage'):
        op.add_column(table, sa.Column('experiment', sa.String(length=64), nullable=True))
        op.add_column(table, sa.Column('variant', sa.String(length=64), nullable=True))
    op.add_column('runs', sa.Column('trigger', sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_index('ix_runs_experiment', table_name='runs')
    with op.batch_alter_table('runs') as batch_op:
        batch_op.drop_column('trigger')
    for table in ('usage', 'runs', 'threads'):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column('variant')
            batch_op.drop_column('experiment')
    op.drop_index('ix_feedback_thread', table_name='feedback')
    op.drop_index('ix_feedback_request', table_name='feedback')
    op.drop_table('feedback')
    op.drop_table('experiments')
