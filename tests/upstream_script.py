"""What the scripted upstream answers: the script of one reply and its OpenAI wire encoding."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

Message = dict[str, Any]

FILLER = ("Lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do")
_TOKEN_RE = re.compile(r"\s*\S+|\s+")
_NULL_TAIL = b',"finish_reason":null}]}\n\n'


@dataclass
class ScriptedToolCall:
    name: str
    arguments: str = "{}"  # a JSON string, streamed in several fragments
    id: str | None = None  # default: a fresh "call_..." id


@dataclass
class Script:
    """One scripted reply; no text, tokens nor tool calls = echo ``"You said: " + <last user text>``."""

    text: str | None = None  # split with split_tokens()
    tokens: list[str] | None = None  # explicit tokens (wins over text)
    tool_calls: list[ScriptedToolCall] = field(default_factory=list)  # streamed after the text
    ttft: float = 0.0  # seconds before the first chunk (also delays an error response)
    token_delay: float = 0.0  # seconds between chunks
    status: int = 200  # != 200: OpenAI error JSON with this status
    error_message: str | None = None
    retry_after: float | None = None  # Retry-After header on an error response
    disconnect_after: int | None = None  # drop the socket after this many content/argument chunks
    finish_reason: str | None = None  # default: "tool_calls" if tool_calls else "stop"
    hang: bool = False  # accept the request, never answer
    thinking: str | None = None  # reasoning before the answer (`reasoning_content`; thinking; thought parts)
    redacted_thinking: str | None = None  # Anthropic: an encrypted thinking block's data, after the thinking
    cached_tokens: int = 0  # of the prompt, reported as read from the provider's prompt cache
    cache_written: int = 0  # Anthropic: of the prompt, reported as written to the cache


def split_tokens(text: str) -> list[str]:
    """Words keeping their leading whitespace: ``"Hi there"`` -> ``["Hi", " there"]`` (lossless)."""
    return _TOKEN_RE.findall(text)


def filler_tokens(n: int) -> list[str]:
    """``n`` readable tokens for load tests: ``["Lorem", " ipsum", ...]``."""
    return [("" if i == 0 else " ") + FILLER[i % len(FILLER)] for i in range(n)]


def message_text(message: Message) -> str:
    """A chat message's text: its string content, or its text parts joined by spaces."""
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(str(p["text"]) for p in content if isinstance(p, dict) and "text" in p)
    return content if isinstance(content, str) else ""


def last_user_text(body: Message) -> str:
    users = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
    return message_text(users[-1]) if users else ""


def _split_arguments(arguments: str) -> list[str]:
    """Argument text in fragments of at most 8 characters, at least two when it has two characters."""
    size = max(1, min(8, (len(arguments) + 1) // 2))
    return [arguments[i : i + size] for i in range(0, len(arguments), size)] or [""]


class Reply:
    """What one request gets: tokens, tool calls, usage; encodes stream chunks lazily (cheap at load)."""

    def __init__(self, body: Message, script: Script) -> None:
        if script.tokens is not None:
            self.tokens = list(script.tokens)
        elif script.text is not None or script.tool_calls:
            self.tokens = split_tokens(script.text or "")
        else:
            self.tokens = split_tokens("You said: " + last_user_text(body))
        self.thinking = script.thinking
        self.cached_tokens = script.cached_tokens
        self.reasoning_tokens = len((script.thinking or "").split())  # a thought's words: its tokens
        self.calls = [(tc.id or f"call_{uuid.uuid4().hex[:24]}", tc) for tc in script.tool_calls]
        self.fragments = [_split_arguments(tc.arguments) for tc in script.tool_calls]
        self.completion_tokens = len(self.tokens) + sum(map(len, self.fragments)) + self.reasoning_tokens
        self.prompt_tokens = sum(len(message_text(m).split()) for m in body["messages"] if isinstance(m, dict))
        self.finish_reason = script.finish_reason or ("tool_calls" if self.calls else "stop")
        ident, model = f"chatcmpl-{uuid.uuid4().hex[:24]}", body.get("model")
        self.head = {"id": ident, "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
        self._prefix = b"data: " + dumps(self.head)[:-1] + b',"choices":[{"index":0,"delta":'

    def chunks(self) -> Iterator[tuple[bytes, bool]]:
        """Encoded chunks after the role chunk, each flagged whether it counts as a content/argument chunk."""
        if self.thinking:  # as vLLM, DeepSeek and llama.cpp's server stream reasoning
            yield self.chunk({"reasoning_content": self.thinking}), False
        for token in self.tokens:  # the hot path under load: no dict, no generic encoder
            yield self._prefix + b'{"content":%s}' % dumps(token) + _NULL_TAIL, True
        for index, ((cid, tc), fragments) in enumerate(zip(self.calls, self.fragments, strict=True)):
            function = {"name": tc.name, "arguments": ""}
            named = {"index": index, "id": cid, "type": "function", "function": function}
            yield self.chunk({"tool_calls": [named]}), False
            for part in fragments:
                yield self.chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]}), True

    def chunk(self, delta: Message, finish_reason: str | None = None) -> bytes:
        return self._prefix + dumps(delta) + b',"finish_reason":%s}]}\n\n' % dumps(finish_reason)

    @property
    def usage(self) -> Message:
        total = self.prompt_tokens + self.completion_tokens
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens, "total_tokens": total,
                "prompt_tokens_details": {"cached_tokens": self.cached_tokens},  # as OpenAI details them
                "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens}}

    def usage_chunk(self) -> bytes:
        return b"data: %s\n\n" % dumps({**self.head, "choices": [], "usage": self.usage})

    def completion(self) -> Message:
        content = "".join(self.tokens) if self.tokens or not self.calls else None
        message: Message = {"role": "assistant", "content": content}
        if self.calls:
            message["tool_calls"] = [
                {"id": cid, "type": "function", "function": {"name": tc.name, "arguments": tc.arguments}}
                for cid, tc in self.calls
            ]
        choice = {"index": 0, "message": message, "finish_reason": self.finish_reason}
        return {**self.head, "object": "chat.completion", "choices": [choice], "usage": self.usage}


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
