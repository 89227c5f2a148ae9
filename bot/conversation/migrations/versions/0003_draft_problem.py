"""A knowledge draft's problem: why its last approval did not get it served.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("knowledge_drafts") as batch:
        batch.add_column(sa.Column("problem", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("knowledge_drafts") as batch:
        batch.drop_column("problem")
