"""`python -m eval` is `kefu-eval`."""

from eval.cli import app

app()
