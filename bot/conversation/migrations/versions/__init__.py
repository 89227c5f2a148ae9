"""Revisions of the conversation store's schema, oldest first (Alembic skips this file)."""
