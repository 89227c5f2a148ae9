"""Answering one customer message from the knowledge base: grounded, cited, or refused."""
