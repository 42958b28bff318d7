"""security: key expiry, data rights, retention

Revision ID: 0006_security
Revises: 0005_knowledge
Create Date: 2026-11-25 18:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from parlor.db import online

revision: str = '0006_security'
down_revision: str | None = '0005_knowledge'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if not online.has_column('api_keys', 'expires_at'):  # else a cut run committed this part already
        _tables()
    online.create_index('ix_threads_updated', 'threads', ['updated_at'])  # retention purges by last activity


def _tables() -> None:
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('name', sa.String(length=100), nullable=True))
    op.create_table('identities',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('issuer', sa.String(length=500), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('issuer', 'subject', name='uq_identities_issuer_subject')
    )
    with op.batch_alter_table('identities', schema=None) as batch_op:
        batch_op.create_index('ix_identities_user_id', ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('threads', schema=None) as batch_op:
        batch_op.drop_index('ix_threads_updated')
    with op.batch_alter_table('identities', schema=None) as batch_op:
        batch_op.drop_index('ix_identities_user_id')
    op.drop_table('identities')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('name')
        batch_op.drop_column('expires_at')
