"""`python -m gateway.cli` runs `relay`."""

from . import app

app()
