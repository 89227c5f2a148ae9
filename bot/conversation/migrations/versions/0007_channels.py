"""Messaging channels and customers across them: the platform events already taken (a
redelivery is handled once), each channel conversation's delivery cursor, the customers'
channel contacts; which identities are one customer, the history of links, merges and splits,
and the one-time linking codes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "channel_events",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "event_id", name="pk_channel_events"),
    )
    op.create_index("ix_channel_events_received_at", "channel_events", ["received_at"])
    op.create_table(
        "channel_deliveries",
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("delivered_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_channel_deliveries_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", name="pk_channel_deliveries"),
    )
    op.create_table(
        "channel_contacts",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("following", sa.Boolean(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "sender_id", name="pk_channel_contacts"),
    )

    op.create_table(
        "customer_identities",
        sa.Column("identity", sa.String(255), nullable=False),
        sa.Column("customer", sa.String(64), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("identity", name="pk_customer_identities"),
    )
    op.create_index("ix_customer_identities_customer", "customer_identities", ["customer"])
    op.create_table(
        "identity_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("identity", sa.String(255), nullable=False),
        sa.Column("other", sa.String(255), nullable=True),
        sa.Column("customer", sa.String(64), nullable=True),
        sa.Column("proof", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_identity_events"),
    )
    op.create_index("ix_identity_events_identity", "identity_events", ["identity"])
    op.create_index("ix_identity_events_other", "identity_events", ["other"])
    op.create_table(
        "link_codes",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("identity", sa.String(255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code_hash", name="pk_link_codes"),
    )
    op.create_index("ix_link_codes_identity", "link_codes", ["identity"])


def downgrade() -> None:
    op.drop_index("ix_link_codes_identity", table_name="link_codes")
    op.drop_table("link_codes")
    op.drop_index("ix_identity_events_other", table_name="identity_events")
    op.drop_index("ix_identity_events_identity", table_name="identity_events")
    op.drop_table("identity_events")
    op.drop_index("ix_customer_identities_customer", table_name="customer_identities")
    op.drop_table("customer_identities")
    op.drop_table("channel_contacts")
    op.drop_table("channel_deliveries")
    op.drop_index("ix_channel_events_received_at", table_name="channel_events")
    op.drop_table("channel_events")
