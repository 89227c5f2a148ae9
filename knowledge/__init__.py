"""Chunks in, ranked passages out: embeddings, vector store, keyword index, hybrid search."""
