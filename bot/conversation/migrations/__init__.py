"""Alembic migrations of the conversation store; SqlConversationStore runs them on open.

A package (not just a folder) so that setuptools ships it with `bot`. A new revision:

    python -c "from alembic import command; from bot.conversation.sql import migration_config
    c = migration_config(); c.set_main_option('sqlalchemy.url', 'sqlite:///data/conversations.db')
    command.revision(c, 'what changes', autogenerate=True)"
"""
