"""Rate-limit headers and the limits' errors at the edge.

Headers follow the IETF httpapi draft "RateLimit header fields for HTTP" (structured fields):
`RateLimit-Policy: "minute";q=20;w=60, "hour";q=200;w=3600` names each quota policy, and
`RateLimit: "minute";r=19;t=60, "hour";r=199;t=3600` gives what remains of each and the seconds
until it frees up. A 429 adds `Retry-After`. The dependency that checks the limit (in deps.py)
hands allowed responses' headers to `RateLimitHeaders`, which adds them to whatever response the
route returns -- streaming ones included.
"""

from __future__ import annotations

from contextvars import ContextVar

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parlor.api.errors import ApiError, error_response
from parlor.limits import BudgetExhausted, Decision, LimitsUnavailable, ModelNotAllowed
from parlor.limits.limiter import header_seconds

_pending: ContextVar[list[tuple[bytes, bytes]] | None] = ContextVar("ratelimit_headers", default=None)


def headers_for(decision: Decision) -> dict[str, str]:
    if not decision.states:
        return {}
    policy = ", ".join(f'"{s.window.name}";q={s.window.limit};w={header_seconds(s.window.seconds)}'
                       for s in decision.states)
    current = ", ".join(f'"{s.window.name}";r={s.remaining};t={header_seconds(s.reset)}' for s in decision.states)
    headers = {"RateLimit-Policy": policy, "RateLimit": current}
    if not decision.allowed:
        headers["Retry-After"] = str(max(1, header_seconds(decision.retry_after)))
    return headers


def add_headers(headers: dict[str, str]) -> None:
    """Headers for the response of the request being handled (no-op outside the middleware)."""
    pending = _pending.get()
    if pending is not None:
        pending.extend((k.lower().encode(), v.encode()) for k, v in headers.items())


def rate_limited(decision: Decision, what: str = "requests") -> ApiError:
    wait = max(1, header_seconds(decision.retry_after))
    return ApiError(429, "rate_limited", f"Too many {what}; retry in {wait} s.", headers_for(decision))


class RateLimitHeaders:
    """Pure ASGI: adds the headers a dependency left for this request to its response start."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        pending: list[tuple[bytes, bytes]] = []
        token = _pending.set(pending)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and pending and message["status"] < 400:
                message["headers"] = [*message.get("headers", []), *pending]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            _pending.reset(token)


def install_limit_errors(app: FastAPI) -> None:
    @app.exception_handler(BudgetExhausted)
    async def _exhausted(request: Request, exc: BudgetExhausted) -> Response:
        left = max(0, exc.limit - exc.used)
        message = (f"The daily token budget ({exc.limit}) has {left} tokens left; this request may need "
                   f"{exc.needed}. It resets at midnight.")
        return error_response(request.url.path, 429, "token_budget_exhausted", message,
                              {"Retry-After": str(max(1, header_seconds(exc.retry_after)))})

    @app.exception_handler(LimitsUnavailable)
    async def _unavailable(request: Request, exc: LimitsUnavailable) -> Response:
        return error_response(request.url.path, 503, "limits_unavailable",
                              "Request limits cannot be checked right now; please retry shortly.",
                              {"Retry-After": "1"})

    @app.exception_handler(ModelNotAllowed)
    async def _model(request: Request, exc: ModelNotAllowed) -> Response:
        return error_response(request.url.path, 403, "model_not_allowed",
                              f"Your tier ({exc.tier}) may not use the model {exc.model!r}.")
