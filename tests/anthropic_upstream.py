"""A scripted, Anthropic-compatible upstream: `POST /v1/messages` answered with the Messages API's own
streaming events (message_start, content blocks of text, thinking and tool use, message_delta,
message_stop, ping, error), on the same real-socket server as the OpenAI one (tests/upstream.py), scripted
with the same `Script`. The official `anthropic` SDK reads it in tests/test_anthropic_provider.py: that is
what keeps this fake faithful."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from tests.upstream import Script, Upstream, read_body
from tests.upstream_script import Message, Reply, dumps, message_text

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
SIGNATURE = "c2lnbmVk"  # what this fake seals a thinking block with, and checks when it comes back


def event(data: Message) -> bytes:
    return b"event: %s\ndata: %s\n\n" % (data["type"].encode(), dumps(data))


class AnthropicUpstream(Upstream):
    """`url` is the API's base (no `/v1`), as the SDK and Parlor's `base_url` take it."""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope["headers"])
        keys = (headers.get(b"x-api-key"), headers.get(b"authorization", b"").removeprefix(b"Bearer "))
        if self.api_key is not None and self.api_key.encode() not in keys:  # both spellings are the API's
            return await _error(send, 401, "authentication_error", "invalid x-api-key")
        if scope["path"] != "/v1/messages" or scope["method"] != "POST":
            return await _error(send, 404, "not_found_error", f"No route {scope['method']} {scope['path']}.")
        if b"anthropic-version" not in headers:
            return await _error(send, 400, "invalid_request_error", "anthropic-version header is required")
        if (raw := await read_body(receive)) is None:
            return
        body = json.loads(raw)
        if not isinstance(body.get("messages"), list) or not isinstance(body.get("max_tokens"), int):
            return await _error(send, 400, "invalid_request_error", "messages and max_tokens are required")
        if (refused := thinking_error(body)) is not None:
            self._requests.append(body)
            return await _error(send, 400, "invalid_request_error", refused)
        await self._chat(body, self._take_script(body), receive, send)

    async def _respond(self, body: Message, script: Script, send: Any, call: Any) -> None:
        start = time.monotonic()
        if script.hang:
            await asyncio.get_running_loop().create_future()
        if script.status != 200:
            await asyncio.sleep(script.ttft)
            call.finished = True
            kind = "overloaded_error" if script.status == 529 else "rate_limit_error" \
                if script.status == 429 else "api_error" if script.status >= 500 else "invalid_request_error"
            retry = [] if script.retry_after is None else [(b"retry-after", f"{script.retry_after:g}".encode())]
            return await _error(send, script.status, kind, script.error_message or f"scripted {script.status}", retry)
        headers = [(b"content-type", b"text/event-stream"), (b"request-id", uuid.uuid4().hex.encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        content = 0  # content events so far: the first comes at ttft, each next one token_delay later
        for piece, counts in _events(body, script):
            due = start + script.ttft + max(0, content - 1) * script.token_delay
            content += counts
            if due > time.monotonic():
                await asyncio.sleep(due - time.monotonic())
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        call.finished = True
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def thinking(body: Message) -> bool:
    return (body.get("thinking") or {}).get("type") == "enabled"


def thinking_error(body: Message) -> str | None:
    """The Messages API's rules for extended thinking, as it refuses a request that breaks them."""
    if not thinking(body):
        return None
    budget = body["thinking"].get("budget_tokens")
    if not isinstance(budget, int) or budget < 1024:
        return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
    if body["max_tokens"] <= budget:
        return "`max_tokens` must be greater than `thinking.budget_tokens`"
    if "temperature" in body:
        return "`temperature` may only be set to 1 when thinking is enabled"
    if (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
        return "Thinking may not be enabled when tool_choice forces tool use."
    assistants = [m for m in body["messages"] if m.get("role") == "assistant"]
    last = assistants[-1]["content"] if assistants else []
    if isinstance(last, list) and any(b.get("type") == "tool_use" for b in last):
        first = last[0]
        if first.get("type") not in ("thinking", "redacted_thinking"):
            return (f"messages: Expected `thinking` or `redacted_thinking`, but found `{first.get('type')}`. When "
                    "`thinking` is enabled, a final `assistant` message must start with a thinking block")
        signed = [b for b in last if b.get("type") == "thinking"]
        if any(b.get("signature") != SIGNATURE for b in signed):
            return "messages: Invalid `signature` in `thinking` block"
    return None


def _events(body: Message, script: Script) -> Any:
    """(encoded event, whether it carries content) in the Messages API's order; a scripted
    `disconnect_after` turns into an `error` event (overloaded) after that many content events."""
    reply = Reply(body, script)
    prompt = sum(len(message_text(m).split()) for m in body["messages"])
    yield event({"type": "message_start", "message": {
        "id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "content": [],
        "model": body.get("model"), "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": prompt, "cache_read_input_tokens": script.cached_tokens,
                  "cache_creation_input_tokens": script.cache_written, "output_tokens": 1}}}), False
    yield event({"type": "ping"}), False
    sent, index = 0, 0
    if script.thinking and thinking(body):  # Anthropic thinks only when asked to
        block = {"type": "thinking", "thinking": ""}
        yield event({"type": "content_block_start", "index": 0, "content_block": block}), False
        yield event({"type": "content_block_delta", "index": 0,
                     "delta": {"type": "thinking_delta", "thinking": script.thinking}}), True
        yield event({"type": "content_block_delta", "index": 0,
                     "delta": {"type": "signature_delta", "signature": SIGNATURE}}), False
        yield event({"type": "content_block_stop", "index": 0}), False
        index = 1
        if script.redacted_thinking:
            redacted = {"type": "redacted_thinking", "data": script.redacted_thinking}
            yield event({"type": "content_block_start", "index": 1, "content_block": redacted}), False
            yield event({"type": "content_block_stop", "index": 1}), False
            index = 2
    blocks: list[tuple[Message, list[Message]]] = []
    if reply.tokens:
        blocks.append(({"type": "text", "text": ""}, [{"type": "text_delta", "text": t} for t in reply.tokens]))
    for (call_id, tool), fragments in zip(reply.calls, reply.fragments, strict=True):
        start = {"type": "tool_use", "id": call_id.replace("call_", "toolu_"), "name": tool.name, "input": {}}
        blocks.append((start, [{"type": "input_json_delta", "partial_json": f} for f in fragments]))
    for start, deltas in blocks:
        yield event({"type": "content_block_start", "index": index, "content_block": start}), False
        for delta in deltas:
            if script.disconnect_after is not None and sent >= script.disconnect_after:
                yield event({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}), True
                return
            yield event({"type": "content_block_delta", "index": index, "delta": delta}), True
            sent += 1
        yield event({"type": "content_block_stop", "index": index}), False
        index += 1
    stop = STOP_REASONS.get(reply.finish_reason, "end_turn")
    yield event({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                 "usage": {"output_tokens": reply.completion_tokens}}), False
    yield event({"type": "message_stop"}), False


async def _error(send: Any, status: int, kind: str, message: str,
                 extra: list[tuple[bytes, bytes]] | None = None) -> None:
    data = dumps({"type": "error", "error": {"type": kind, "message": message}})
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", b"%d" % len(data)), *(extra or [])]})
    await send({"type": "http.response.body", "body": data})
