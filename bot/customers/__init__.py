"""Customers across channels: which identities are one person, linked only on proof."""
