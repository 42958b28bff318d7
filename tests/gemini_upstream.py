"""A scripted, Gemini-compatible upstream: `POST /v1/models/{model}:streamGenerateContent?alt=sse`
answered with `GenerateContentResponse` chunks as server-sent events (text parts, thought parts, whole
function calls, a last chunk with `finishReason` and `usageMetadata`, then the stream closes), on the same
real-socket server as the OpenAI one, scripted with the same `Script`. The official `google-genai` SDK
reads it in tests/test_gemini_provider.py: that keeps this fake faithful."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from tests.upstream import Script, Upstream, _Drop, read_body
from tests.upstream_script import Message, Reply, dumps

SIGNATURE = "c2lnbmVkLWJ5LXRoZS1mYWtl"  # what the fake's thinking steps are sealed with (opaque to Parlor)
ROUTE = re.compile(r"^/v1(beta)?/models/([^/:]+):streamGenerateContent$")
FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP"}
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


def chunk(parts: list[Message], finish: str | None = None, usage: Message | None = None) -> bytes:
    candidate: Message = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    body: Message = {"candidates": [candidate], "modelVersion": "gemini-test"}
    if usage:
        body["usageMetadata"] = usage
    return b"data: %s\r\n\r\n" % dumps(body)


class GeminiUpstream(Upstream):
    """`url` is the API's base (no version), as the SDK and Parlor's `base_url` take it."""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        key = dict(scope["headers"]).get(b"x-goog-api-key")
        if self.api_key is not None and key != self.api_key.encode():
            return await _error(send, 401, "API key not valid.")
        if not ROUTE.match(scope["path"]) or scope["method"] != "POST" or b"alt=sse" not in scope["query_string"]:
            return await _error(send, 404, f"No route {scope['method']} {scope['path']}.")
        if (raw := await read_body(receive)) is None:
            return
        body = json.loads(raw)
        if not isinstance(body.get("contents"), list):
            return await _error(send, 400, "contents is required")
        if (unsigned := _unsigned_call(body)) is not None:  # as Gemini refuses a thinking model's loop
            return await _error(send, 400, f"Function call is missing a thought_signature in functionCall parts. "
                                f"This is required for tools to work correctly ({unsigned}).")
        # the scripts match on the last user text, which Gemini keeps in `contents[].parts[].text`
        as_messages = [{"role": c.get("role"), "content": [p for p in c.get("parts", []) if "text" in p]}
                       for c in body["contents"]]
        seen = {**body, "messages": as_messages}
        await self._chat(seen, self._take_script(seen), receive, send)

    async def _respond(self, body: Message, script: Script, send: Any, call: Any) -> None:
        start = time.monotonic()
        if script.hang:
            await asyncio.get_running_loop().create_future()
        if script.status != 200:
            await asyncio.sleep(script.ttft)
            call.finished = True
            retry = [] if script.retry_after is None else [(b"retry-after", f"{script.retry_after:g}".encode())]
            return await _error(send, script.status, script.error_message or f"scripted {script.status}", retry)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        for k, piece in enumerate(_chunks(body, script)):
            if piece is None:  # a scripted disconnect: the socket dies mid-answer
                raise _Drop("scripted disconnect")
            due = start + script.ttft + max(0, k - 1) * script.token_delay
            if due > time.monotonic():
                await asyncio.sleep(due - time.monotonic())
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        call.finished = True
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _chunks(body: Message, script: Script) -> Any:
    reply = Reply(body, script)
    config = (body.get("generationConfig") or {}).get("thinkingConfig") or {}
    thinks = config.get("includeThoughts") or config.get("include_thoughts")  # proto JSON takes either spelling
    if script.thinking and thinks:  # thought parts come only when asked for
        yield chunk([{"text": script.thinking, "thought": True}])
    for k, token in enumerate(reply.tokens):
        if script.disconnect_after is not None and k >= script.disconnect_after:
            yield None
            return
        yield chunk([{"text": token}])
    calls = [{"functionCall": {"name": tool.name, "args": json.loads(tool.arguments)}} for _, tool in reply.calls]
    if calls and thinks:  # a thinking model seals its step on the first call: the loop must send it back
        calls[0]["thoughtSignature"] = SIGNATURE
    prompt = reply.prompt_tokens
    answer = reply.completion_tokens - reply.reasoning_tokens  # Gemini counts the thoughts apart
    usage = {"promptTokenCount": prompt + script.cached_tokens, "candidatesTokenCount": answer,
             "thoughtsTokenCount": reply.reasoning_tokens, "cachedContentTokenCount": script.cached_tokens,
             "totalTokenCount": prompt + script.cached_tokens + reply.completion_tokens}
    yield chunk(calls, FINISH.get(reply.finish_reason, "STOP"), usage)


def _unsigned_call(body: Message) -> str | None:
    """With thinking on, the first call of each model step since the user's last text must carry the
    signature its step came with (Gemini's rule for the current turn; earlier turns are not checked)."""
    config = (body.get("generationConfig") or {}).get("thinkingConfig") or {}
    if not (config.get("includeThoughts") or config.get("include_thoughts")):
        return None
    contents = body["contents"]
    asked = max((k for k, c in enumerate(contents)
                 if c.get("role") == "user" and any("text" in p for p in c.get("parts", []))), default=-1)
    for content in contents[asked + 1:]:
        calls = [p for p in content.get("parts", []) if "functionCall" in p]
        if content.get("role") == "model" and calls and calls[0].get("thoughtSignature") != SIGNATURE:
            return str(calls[0]["functionCall"].get("name"))
    return None


async def _error(send: Any, status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    data = dumps({"error": {"code": status, "message": message, "status": STATUS.get(status, "UNKNOWN")}})
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", b"%d" % len(data)), *(extra or [])]})
    await send({"type": "http.response.body", "body": data})
