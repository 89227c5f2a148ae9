"""Evaluation harnesses: retrieval quality and latency measured on public data sets."""
