"""``axis.api.asgi:app``: the app built from the environment (for uvicorn/gunicorn workers)."""

from axis.api import create_app

app = create_app()
