"""The shop's orders, beside the conversations: synced from Shopify, WooCommerce or a file.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.String(140), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("source_id", sa.String(64), nullable=True),
        sa.Column("email", sa.String(255), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("platform_customer_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("raw_status", sa.String(64), nullable=False),
        sa.Column("payment_status", sa.String(32), nullable=True),
        sa.Column("items", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("total", sa.String(32), nullable=True),
        sa.Column("currency", sa.String(8), nullable=True),
        sa.Column("carrier", sa.String(120), nullable=True),
        sa.Column("tracking_number", sa.String(120), nullable=True),
        sa.Column("tracking_url", sa.String(1000), nullable=True),
        sa.Column("expected_delivery", sa.String(40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
        sa.UniqueConstraint("source", "number", name="uq_orders_source_number"),
    )
    for column in ("number", "email", "phone", "platform_customer_id", "created_at"):
        op.create_index(f"ix_orders_{column}", "orders", [column])


def downgrade() -> None:
    for column in ("number", "email", "phone", "platform_customer_id", "created_at"):
        op.drop_index(f"ix_orders_{column}", table_name="orders")
    op.drop_table("orders")
