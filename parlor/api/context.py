"""Per-request context: the request id, bound in a contextvar and echoed in `X-Request-ID` (the
outermost middleware); and the body size limit, enforced before routing but inside the observability
middleware, so a refused request still gets its log line, its span and its count."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_request_id: ContextVar[str] = ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def current_request_id() -> str:
    return _request_id.get()


class RequestContextMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware), so streaming responses pass through untouched."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = _request_id.set(request_id)
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _request_id.reset(token)


class BodyLimitMiddleware:
    """Refuses a body over the limit with 413: at once when Content-Length says so, else as soon as the
    bytes read pass it (a chunked upload). Then whatever the route answers (FastAPI turns a failed body
    read into a 400) is replaced by the 413."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, upload_bytes: dict[str, int] | None = None):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.upload_bytes = upload_bytes or {}  # larger limits for POSTs to upload routes, by exact path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        if scope.get("method") == "POST":
            limit = self.upload_bytes.get(scope["path"], limit)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _too_large(send, limit)
            return
        seen, refused = 0, False

        async def limited() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    raise BodyTooLarge()
            return message

        async def answer(message: Message) -> None:
            if not refused:
                await send(message)
            elif message["type"] == "http.response.start":
                await _too_large(send, limit)

        await self.app(scope, limited, answer)


async def _too_large(send: Send, limit: int) -> None:
    body = orjson.dumps({"error": {"code": "payload_too_large", "request_id": current_request_id(),
                                   "message": f"The request body is over {limit} bytes."}})
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    pass
