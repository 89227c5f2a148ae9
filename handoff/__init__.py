"""The gate that decides when a person takes over, and the human queue (to come)."""
