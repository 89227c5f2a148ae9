"""Conversations: their status, the typed events of every turn, and the store that keeps them."""
