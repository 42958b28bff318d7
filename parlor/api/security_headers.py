"""Security headers on every answer (the web UI, the API, errors, streams) and CORS, closed unless
PARLOR_CORS_ORIGINS lists the origins a browser may call the API from.

The UI's Content-Security-Policy allows scripts from this origin only (no inline script, no eval): the
built UI is one module script and its chunks. Inline *styles* stay allowed: the math and code renderers
set style attributes. `/api/docs` (Swagger UI) gets its own policy, for its inline bootstrap script and CDN.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UI_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
             "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
             "frame-ancestors 'none'")
DOCS_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
               "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https:; "
               "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
DOCS_PATHS = ("/api/docs", "/docs/oauth2-redirect")
COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000")
CORS_HEADERS = ["Authorization", "Content-Type", "X-Request-ID", "Idempotency-Key", "Last-Event-ID"]
CORS_EXPOSED = ["X-Request-ID", "X-Trace-ID", "RateLimit", "RateLimit-Policy", "Retry-After", "Location"]


class SecurityHeaders:
    """Pure ASGI (streams pass through untouched): adds the headers to each response's start."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_POLICY if scope["path"] in DOCS_PATHS else UI_POLICY
        extra = [*COMMON, (b"content-security-policy", policy.encode())]
        if scope.get("scheme") == "https":  # as the client saw it (behind a trusted proxy: its X-Forwarded-Proto)
            extra.append(HSTS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_security(app: FastAPI, cors_origins: list[str]) -> None:
    """Outermost layers: every answer, 413s and errors included, carries the headers."""
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=cors_origins, allow_methods=["*"],
                           allow_headers=CORS_HEADERS, expose_headers=CORS_EXPOSED, max_age=600)
    app.add_middleware(SecurityHeaders)
