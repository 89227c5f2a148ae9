"""The bundled demo knowledge base."""
