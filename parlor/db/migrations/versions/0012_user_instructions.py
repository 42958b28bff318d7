"""user_instructions: a user's custom instructions (about them; how to answer), put in every system prompt

Revision ID: 0012_user_instructions
Revises: 0011_assistants_groups
Create Date: 2026-12-04 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012_user_instructions'
down_revision: str | None = '0011_assistants_groups'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A new, empty table: no lock on any table in use but the brief one on users for the foreign key.
    op.create_table('user_instructions',
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('about', sa.Text(), nullable=False),
    sa.Column('style', sa.Text(), nullable=False),
    sa.Column('tokens', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id')
    )


def downgrade() -> None:
    op.drop_table('user_instructions')
