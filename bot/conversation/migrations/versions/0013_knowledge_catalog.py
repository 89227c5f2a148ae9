"""The knowledge catalog in the SQL database (chunks, sources, meta), so that every worker
on one database serves the same knowledge. Without KEFU_DATABASE_URL the catalog stays in
its SQLite file under the data directory, and these tables stay empty.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "knowledge_chunks",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("locator", sa.Text(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("tokens", sa.Text(), nullable=False),
        sa.Column("ingested_at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_knowledge_chunks"),
    )
    op.create_index("ix_knowledge_chunks_source", "knowledge_chunks", ["source"], unique=False)
    op.create_index("ix_knowledge_chunks_hash", "knowledge_chunks", ["hash"], unique=False)
    op.create_table(
        "knowledge_sources",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("last_ingest", sa.String(40), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_knowledge_sources"),
    )
    op.create_table(
        "knowledge_meta",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_knowledge_meta"),
    )


def downgrade() -> None:
    op.drop_table("knowledge_meta")
    op.drop_table("knowledge_sources")
    op.drop_index("ix_knowledge_chunks_hash", table_name="knowledge_chunks")
    op.drop_index("ix_knowledge_chunks_source", table_name="knowledge_chunks")
    op.drop_table("knowledge_chunks")
