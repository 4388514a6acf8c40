"""Error responses: one shape, the field at fault named, never a traceback.

Every error body is ``{"success": false, "error": "<one line>", ...}``. Validation errors add
``field`` (the first failing location, e.g. ``body.size_usdt``) and ``errors`` (all of them);
risk vetoes add ``rule`` and ``details``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from axis.observability.logging import get_logger

log = get_logger("axis.api")


class ApiError(Exception):
    """A refusal with a status, a one-line message and optional structured fields."""

    def __init__(
        self,
        status: int,
        error: str,
        *,
        headers: dict[str, str] | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.headers = headers
        self.fields = fields


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def forbidden(error: str = "not your resource") -> ApiError:
    return ApiError(403, error)


def conflict(error: str, **fields: Any) -> ApiError:
    return ApiError(409, error, **fields)


def field_error(field: str, message: str) -> ApiError:
    """A 422 for a rule no schema can express (e.g. a value that must exist in the store)."""
    return ApiError(
        422,
        f"{field}: {message}",
        field=field,
        errors=[{"field": field, "message": message}],
    )


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc) or "request"


def body(status: int, error: str, **fields: Any) -> dict[str, Any]:
    return {"success": False, "error": error, **fields}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            body(exc.status, exc.error, **exc.fields), status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _location(e.get("loc", ())), "message": str(e.get("msg", "invalid"))}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"field": "request", "message": "invalid"}
        return JSONResponse(
            body(422, f"{first['field']}: {first['message']}", field=first["field"], errors=errors),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):
            # A body that is not even text (bad encoding): invalid input like any other.
            message = "the request body is not valid JSON"
            return JSONResponse(
                body(
                    422,
                    f"body: {message}",
                    field="body",
                    errors=[{"field": "body", "message": message}],
                ),
                status_code=422,
            )
        return JSONResponse(
            body(exc.status_code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = request.scope.get("state", {}).get("request_id")
        log.exception("unhandled_error", path=request.url.path, error=type(exc).__name__)
        return JSONResponse(body(500, "internal error", request_id=request_id), status_code=500)
