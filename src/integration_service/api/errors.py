"""The API's one error model: every error is `{"error": {"code", "message", "details"}}`.

Domain code raises a `ServiceError` subclass; database errors are mapped by their class, never by
their message text; validation errors never echo the rejected input (it may be a secret).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg.errors
import psycopg_pool
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

log = structlog.get_logger(__name__)


class ServiceError(Exception):
    """Root of the errors the API reports; subclasses fix the status and code."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, details: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers


class BadRequest(ServiceError):
    status_code, code = 400, "bad_request"


class InvalidSignature(ServiceError):
    """A webhook not verifiably from its provider for our endpoint: nothing of it is read or stored."""

    status_code, code = 400, "invalid_signature"


class Unauthorized(ServiceError):
    status_code, code = 401, "unauthorized"


class NotFound(ServiceError):
    status_code, code = 404, "not_found"


class Conflict(ServiceError):
    status_code, code = 409, "conflict"


class PreconditionFailed(ServiceError):
    status_code, code = 412, "precondition_failed"


class PayloadTooLarge(ServiceError):
    status_code, code = 413, "payload_too_large"


class InvalidInput(ServiceError):
    status_code, code = 422, "validation_failed"


class RateLimited(ServiceError):
    status_code, code = 429, "rate_limited"


class Unavailable(ServiceError):
    status_code, code = 503, "unavailable"


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    error: ErrorBody


def error_response(
    status_code: int, code: str, message: str, details: Any = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, details=details))
    return JSONResponse(body.model_dump(), status_code=status_code, headers=headers)


def documented_errors(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry of a route: which errors it may return, in the one error shape."""
    descriptions = {
        400: "Malformed request (e.g. invalid JSON)",
        401: "Missing or invalid API token",
        404: "Not found (or not yours)",
        409: "Conflicts with the current state",
        412: "Changed since the version named in If-Match was read",
        413: "Request body too large",
        422: "Invalid input; details name each field",
        429: "Rate limit exceeded; see Retry-After",
        503: "A dependency is unavailable",
    }
    return {code: {"model": ErrorResponse, "description": descriptions[code]} for code in status_codes}


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def _field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    # Deliberately without pydantic's `input` and `ctx`: they can hold the rejected secret.
    return [
        {
            "field": ".".join(str(part) for part in error["loc"]),
            "message": error["msg"],
            "type": error["type"],
        }
        for error in exc.errors()
    ]


async def _on_service_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _field_errors(exc)
    if any(error["type"] == "json_invalid" for error in errors):
        return error_response(400, "malformed_json", "the request body is not valid JSON")
    return error_response(422, "validation_failed", "the request is invalid; see details", errors)


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path. FastAPI has one route per method, and Starlette's
    own 405 names only the first route whose path matched (found by fuzzing: `Allow` lied)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]
    return ", ".join(method for method in allowed if method != "HEAD" or "GET" not in allowed)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return error_response(exc.status_code, code, str(exc.detail), headers=headers or None)


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    cause = exc.orig
    if isinstance(cause, psycopg.errors.UniqueViolation):
        return error_response(409, "conflict", "a record with these values already exists")
    if isinstance(cause, psycopg.errors.ForeignKeyViolation):
        return error_response(409, "conflict", "the record refers to something that does not exist")
    if isinstance(cause, psycopg.errors.IntegrityError | psycopg.errors.DataError):
        return error_response(422, "validation_failed", "the database rejected a value")
    if isinstance(exc, OperationalError):
        log.error("database unavailable", path=request.url.path, error_class=type(cause).__name__)
        return error_response(503, "database_unavailable", "the database is unavailable; try again later")
    return await _on_unexpected_error(request, exc)


async def _on_read_error(request: Request, exc: Exception) -> JSONResponse:
    """The hot read path's errors (db/reads.py: psycopg without SQLAlchemy) answered as the engine's are."""
    assert isinstance(exc, psycopg.Error)
    return await _on_database_error(request, DBAPIError.instance(None, None, exc, psycopg.Error))


async def _on_pool_timeout(request: Request, _exc: Exception) -> JSONResponse:
    log.error("database pool exhausted", path=request.url.path)
    return error_response(
        503,
        "database_busy",
        "no database connection was free in time; try again later",
        headers={"Retry-After": "1"},
    )


def unexpected_error(path: str, exc: Exception) -> JSONResponse:
    """Log an error nobody foresaw (redacted, with the request id) and answer 500 saying only that."""
    log.error("unhandled error", path=path, exc_info=exc)
    return error_response(500, "internal_error", "an unexpected error occurred; it has been logged")


async def _on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    return unexpected_error(request.url.path, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _on_service_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(DBAPIError, _on_database_error)
    app.add_exception_handler(PoolTimeoutError, _on_pool_timeout)
    app.add_exception_handler(psycopg.Error, _on_read_error)
    app.add_exception_handler(psycopg_pool.PoolTimeout, _on_pool_timeout)
    # No handler for Exception: Starlette would send its answer from outside every middleware, without
    # the security headers and the request id. RequestContextMiddleware answers it instead.
