"""HTTP calls to the workers and gateways, per the process contract: ``GET /status``,
``GET /readyz``, ``POST /drain`` and ``GET /drain``."""

from __future__ import annotations

from typing import Any

import aiohttp


class ProcessUnreachable(Exception):
    """The process did not answer, or answered with an error."""


class ProcessClient:
    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def _request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        try:
            async with (
                aiohttp.ClientSession(timeout=self.timeout) as session,
                session.request(method, f"{self.base_url}{path}", json=body) as response,
            ):
                text = await response.text()
                data: Any = None
                if response.content_type == "application/json" and text:
                    data = await response.json(content_type=None)
                return response.status, data
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ProcessUnreachable(f"{method} {path}: {type(exc).__name__} {exc}") from None

    async def status(self) -> dict[str, Any]:
        code, data = await self._request("GET", "/status")
        if code != 200 or not isinstance(data, dict):
            raise ProcessUnreachable(f"GET /status: HTTP {code}")
        return data

    async def ready(self) -> bool:
        code, _ = await self._request("GET", "/readyz")
        return code == 200

    async def drain(self, flatten: bool) -> None:
        code, _ = await self._request("POST", "/drain", {"flatten": flatten})
        if code not in (200, 202):
            raise ProcessUnreachable(f"POST /drain: HTTP {code}")

    async def drain_state(self) -> dict[str, Any]:
        code, data = await self._request("GET", "/drain")
        if code != 200 or not isinstance(data, dict):
            raise ProcessUnreachable(f"GET /drain: HTTP {code}")
        return data
