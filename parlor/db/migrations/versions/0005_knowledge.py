"""knowledge: documents in threads, object storage keys

Revision ID: 0005_knowledge
Revises: 0004_runs
Create Date: 2026-11-25 18:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = '0005_knowledge'
down_revision: str | None = '0004_runs'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
