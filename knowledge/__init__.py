"""Chunks in, ranked passages out: embeddings, the vector store, the keyword index and hybrid search."""
