"""A conversation's customer token (its SHA-256 digest) and an unverified customer id.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Conversations from before have no token: no customer route opens them any more, and
    # the widget starts a new one when its stored conversation answers 404.
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("customer_hint", sa.String(255), nullable=True))
        batch.add_column(sa.Column("customer_token", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("customer_token")
        batch.drop_column("customer_hint")
