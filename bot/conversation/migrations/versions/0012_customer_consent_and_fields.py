"""Customers' marketing consent (every opt-in and opt-out), and the shop's own profile fields
with their values.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "marketing_consents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("identity", sa.String(255), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_marketing_consents"),
    )
    op.create_index(
        "ix_marketing_consents_identity", "marketing_consents", ["identity"], unique=False
    )
    op.create_table(
        "custom_fields",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("label_zh", sa.String(120), nullable=False),
        sa.Column("label_en", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("choices", sa.Text(), nullable=True),
        sa.Column("wanted", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_custom_fields"),
    )
    op.create_table(
        "custom_field_values",
        sa.Column("identity", sa.String(255), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("identity", "field", name="pk_custom_field_values"),
    )
    op.create_index("ix_custom_field_values_field", "custom_field_values", ["field"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_custom_field_values_field", table_name="custom_field_values")
    op.drop_table("custom_field_values")
    op.drop_table("custom_fields")
    op.drop_index("ix_marketing_consents_identity", table_name="marketing_consents")
    op.drop_table("marketing_consents")
