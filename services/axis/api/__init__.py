"""The REST API: FastAPI app factory, routers under /api/v2, auth, schemas (`axis api`)."""

from axis.api.app import create_app

__all__ = ["create_app"]
