"""Ingest jobs and the uploaded knowledge files in the database every worker shares (they were
a JSON file and a folder of the data dir).

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_jobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("lane", sa.String(8), nullable=False),
        sa.Column("every", sa.Boolean(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("bytes_total", sa.BigInteger(), nullable=False),
        sa.Column("cancelling", sa.Boolean(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("files_total", sa.Integer(), nullable=False),
        sa.Column("files_done", sa.Integer(), nullable=False),
        sa.Column("current", sa.Text(), nullable=True),
        sa.Column("embedded", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("worker", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ingest_jobs"),
    )
    op.create_index("ix_ingest_jobs_state", "ingest_jobs", ["state"], unique=False)
    op.create_index("ix_ingest_jobs_queued_at", "ingest_jobs", ["queued_at"], unique=False)
    op.create_table(
        "knowledge_files",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("previous", sa.LargeBinary(), nullable=True),
        sa.Column("previous_size", sa.BigInteger(), nullable=True),
        sa.Column("previous_uploaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_knowledge_files"),
    )


def downgrade() -> None:
    op.drop_table("knowledge_files")
    op.drop_index("ix_ingest_jobs_queued_at", table_name="ingest_jobs")
    op.drop_index("ix_ingest_jobs_state", table_name="ingest_jobs")
    op.drop_table("ingest_jobs")
