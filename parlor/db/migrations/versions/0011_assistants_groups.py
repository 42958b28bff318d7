"""assistants and groups (users' configured chats, shared with admins' groups; a thread's assistant)

Groups of users with an optional tier, assistants shared with them, the assistant a thread started with,
and the documents an assistant owns.

Revision ID: 0011_assistants_groups
Revises: 0010_thread_model
Create Date: 2026-12-04 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from parlor.db import online

revision: str = '0011_assistants_groups'
down_revision: str | None = '0010_thread_model'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if not online.has_column('documents', 'assistant_id'):  # else a cut run committed this part already
        _tables()
    # documents may be many: its index is built without blocking their writes
    online.create_index('ix_documents_assistant', 'documents', ['assistant_id'])


def _tables() -> None:
    # New tables are empty: their indexes are built at once. The two columns are nullable with no default:
    # PostgreSQL only notes them in its catalogue (no table rewrite).
    op.create_table('groups',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('tier', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('group_members',
    sa.Column('group_id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'user_id')
    )
    op.create_index('ix_group_members_user_id', 'group_members', ['user_id'], unique=False)
    op.create_table('assistants',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('owner_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('instructions', sa.Text(), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=True),
    sa.Column('tools', sa.JSON(), nullable=True),
    sa.Column('approval_tools', sa.JSON(), nullable=False),
    sa.Column('starters', sa.JSON(), nullable=False),
    sa.Column('avatar', sa.String(length=16), nullable=False),
    sa.Column('color', sa.String(length=7), nullable=False),
    sa.Column('visibility', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_assistants_owner', 'assistants', ['owner_id', 'created_at'], unique=False)
    op.create_index('ix_assistants_visibility', 'assistants', ['visibility'], unique=False)
    op.create_table('assistant_groups',
    sa.Column('assistant_id', sa.String(length=36), nullable=False),
    sa.Column('group_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['assistant_id'], ['assistants.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('assistant_id', 'group_id')
    )
    op.create_index('ix_assistant_groups_group_id', 'assistant_groups', ['group_id'], unique=False)
    op.add_column('threads', sa.Column('assistant_id', sa.String(length=36), nullable=True))
    op.add_column('documents', sa.Column('assistant_id', sa.String(length=36), nullable=True))


def downgrade() -> None:
    op.drop_index('ix_documents_assistant', table_name='documents')
    with op.batch_alter_table('documents') as batch_op:
        batch_op.drop_column('assistant_id')
    with op.batch_alter_table('threads') as batch_op:
        batch_op.drop_column('assistant_id')
    op.drop_index('ix_assistant_groups_group_id', table_name='assistant_groups')
    op.drop_table('assistant_groups')
    op.drop_index('ix_assistants_visibility', table_name='assistants')
    op.drop_index('ix_assistants_owner', table_name='assistants')
    op.drop_table('assistants')
    op.drop_index('ix_group_members_user_id', table_name='group_members')
    op.drop_table('group_members')
    op.drop_table('groups')
