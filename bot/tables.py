"""Every table kefu keeps in its SQL database, gathered: importing this module puts each of
them on the one `MetaData` (knowledge/database.py), which the migrations compare against.
A module that defines a new table is added here."""

from __future__ import annotations

import bot.access.accounts
import bot.access.audit
import bot.attachments.store
import bot.channels.records
import bot.conversation.sql
import bot.customers.consent
import bot.customers.corrections
import bot.customers.fields
import bot.customers.identities
import bot.desk.saved_replies
import bot.desk.schedule
import bot.orders.store
import knowledge.catalog
import knowledge.drafts
import knowledge.ingest_jobs
import knowledge.source_files
from knowledge.database import metadata

__all__ = ["metadata"]

# the modules are imported for their tables; naming them keeps the imports deliberate
DEFINING = (
    bot.access.accounts,
    bot.access.audit,
    bot.attachments.store,
    bot.channels.records,
    bot.conversation.sql,
    bot.customers.consent,
    bot.customers.corrections,
    bot.customers.fields,
    bot.customers.identities,
    bot.desk.saved_replies,
    bot.desk.schedule,
    bot.orders.store,
    knowledge.catalog,
    knowledge.drafts,
    knowledge.ingest_jobs,
    knowledge.source_files,
)
