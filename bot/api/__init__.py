"""HTTP routers: they parse and validate; the services decide."""
