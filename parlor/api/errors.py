"""Errors are values at the edge: one envelope for every non-2xx answer."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parlor.api.context import BodyTooLarge, current_request_id

log = logging.getLogger(__name__)

STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 422: "invalid_request",
                429: "rate_limited", 503: "unavailable"}
OPENAI_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 409: "conflict_error", 413: "invalid_request_error",
                422: "invalid_request_error", 429: "rate_limit_error"}


class ErrorDetail(BaseModel):
    code: str  # machine-readable, e.g. "thread_not_found"
    message: str  # for people
    request_id: str
    type: str | None = None  # /v1 only: the OpenAI error type
    param: str | None = None


class ErrorEnvelope(BaseModel):
    error: ErrorDetail


# Every route may answer these (documented in the OpenAPI schema: clients and schemathesis check them)
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    "4XX": {"model": ErrorEnvelope, "description": "The request was refused; `error.code` says why."},
    "5XX": {"model": ErrorEnvelope, "description": "The server or an upstream failed."},
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def error_response(path: str, status: int, code: str, message: str,
                   headers: Mapping[str, str] | None = None) -> Response:
    body: dict[str, object] = {"code": code, "message": message, "request_id": current_request_id()}
    if path.startswith("/v1/"):  # OpenAI clients read `type` and `message`
        body["type"] = OPENAI_TYPES.get(status, "server_error")
        body["param"] = None
    return Response(orjson.dumps({"error": body}), status_code=status, headers=headers,
                    media_type="application/json")


def _shown(part: object) -> str:
    """A field's name as JSON can carry it (a client's key may hold a lone surrogate)."""
    return str(part).encode("utf-8", "backslashreplace").decode()


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return error_response(request.url.path, exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(_shown(p) for p in first.get("loc", ()) if p != "body") or "body"
        code = "malformed_json" if first.get("type") == "json_invalid" else "invalid_request"
        return error_response(request.url.path, 422, code, f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        code = STATUS_CODES.get(exc.status_code, "error")
        return error_response(request.url.path, exc.status_code, code, str(exc.detail), exc.headers)

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> Response:
        return error_response(request.url.path, 413, "payload_too_large", "The request body is too large.")

    @app.exception_handler(PoolTimeout)
    async def _busy(request: Request, exc: PoolTimeout) -> Response:
        # every database connection of this process stayed busy past the pool's timeout: overload, not a bug
        log.warning("no database connection free for %s %s: %s", request.method, request.url.path, exc)
        return error_response(request.url.path, 503, "server_busy", "The server is too busy right now; retry"
                              " in a moment.", {"Retry-After": "2"})

    @app.exception_handler(ConnectionError)
    @app.exception_handler(DBAPIError)
    async def _database_down(request: Request, exc: Exception) -> Response:
        if not _lost_database(exc):
            raise exc  # a real bug: the 500 envelope (UnhandledErrors), with its traceback logged
        # stopped, restarting or failing over: not a bug, and the client should retry, not give up
        log.warning("the database is unavailable for %s %s: %s", request.method, request.url.path, exc)
        return error_response(request.url.path, 503, "database_unavailable", "The database is unavailable"
                              " right now; retry in a moment.", {"Retry-After": "1"})


DISCONNECTS = ("CannotConnectNowError", "ConnectionDoesNotExistError", "ConnectionFailureError")


def _lost_database(exc: Exception) -> bool:
    """A connection to the database refused, reset or closed under the statement (asyncpg's errors are
    wrapped by SQLAlchemy; a refused connect comes through as the OS error)."""
    if isinstance(exc, ConnectionError):
        return True
    return isinstance(exc, DBAPIError) and (exc.connection_invalidated or type(exc.orig).__name__ in DISCONNECTS
                                            or isinstance(exc.orig, ConnectionError))


class UnhandledErrors:
    """Any exception no handler took becomes the 500 envelope here, inside the request id's and the
    observability middleware, so the answer has its `X-Request-ID`, the envelope the same id, and the
    log line and span the status. (An `exception_handler(Exception)` runs in Starlette's outermost
    middleware, after the request id's was left: the header missing, the id "-".) Pure ASGI: streams
    pass through untouched."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            if started or scope["type"] != "http":  # mid-response (the server closes the connection), or no
                raise  # request at all (the lifespan's): nothing to answer
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            response = error_response(scope["path"], 500, "internal_error", "Something went wrong on our side.")
            await response(scope, receive, send)
