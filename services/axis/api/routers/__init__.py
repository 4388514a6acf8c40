"""The API's routers, mounted under /api/v2 (health and metrics at the root)."""
