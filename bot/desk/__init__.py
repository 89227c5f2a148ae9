"""The human side of a conversation: the queue of those waiting for a person, the agents'
actions on a conversation (claim, reply, note, resolve, hand back, save a draft) and the
handoff packet an agent reads first."""
