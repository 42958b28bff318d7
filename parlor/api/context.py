"""Per-request context: the request id, bound in a contextvar and echoed in `X-Request-ID`;
and the body size limit, enforced before any route reads the body."""

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

    def __init__(self, app: ASGIApp, max_body_bytes: int, upload_bytes: dict[str, int] | None = None):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.upload_bytes = upload_bytes or {}  # larger limits for POSTs to upload routes, by exact path

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

        limit = self.max_body_bytes
        if scope.get("method") == "POST":
            limit = self.upload_bytes.get(scope["path"], limit)
        try:
            length = dict(scope["headers"]).get(b"content-length")
            if length is not None and length.isdigit() and int(length) > limit:
                await self._too_large(send_with_id, request_id, limit)
                return
            await self.app(scope, self._limited(receive, limit), send_with_id)
        finally:
            _request_id.reset(token)

    def _limited(self, receive: Receive, limit: int) -> Receive:
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge()
            return message

        return limited

    async def _too_large(self, send: Send, request_id: str, limit: int) -> None:
        body = orjson.dumps({"error": {"code": "payload_too_large", "request_id": request_id,
                                       "message": f"The request body is over {limit} bytes."}})
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    pass
