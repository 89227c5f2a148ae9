"""Handoff policy: the gate that decides when a person takes over (its signals and the
sentiment model) and the order of the human queue. Policy only: it imports nothing from
`bot`, which performs what it decides (`bot.desk`, `bot.conversation.flows`)."""
