"""A small client of Parlor's API for tests: posts chat turns and reads their UI message stream."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from httpx_sse import connect_sse


@dataclass
class ChatResult:
    status: int
    headers: httpx.Headers
    chunks: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    body: Any = None  # the JSON body of a non-2xx answer

    @property
    def text(self) -> str:
        return "".join(c["delta"] for c in self.chunks if c["type"] == "text-delta")

    @property
    def types(self) -> list[str]:
        return [c["type"] for c in self.chunks]

    @property
    def message_id(self) -> str:
        return str(self.chunks[0]["messageId"])


def chat_body(thread_id: str, text: str, message_id: str | None = None,
              trigger: str = "submit-message") -> dict[str, Any]:
    message = {"id": message_id or uuid.uuid4().hex, "role": "user", "parts": [{"type": "text", "text": text}]}
    return {"id": thread_id, "messages": [message], "trigger": trigger}


def chat(url: str, key: str | None, thread_id: str, text: str, message_id: str | None = None,
         trigger: str = "submit-message", timeout: float = 30.0) -> ChatResult:
    return post_chat(url, key, chat_body(thread_id, text, message_id, trigger), timeout)


def post_chat(url: str, key: str | None, body: dict[str, Any], timeout: float = 30.0) -> ChatResult:
    """`POST /api/chat` with any body: the stream's chunks, or a refusal's status and JSON."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(base_url=url, headers=headers, timeout=timeout) as client, connect_sse(
        client, "POST", "/api/chat", json=body
    ) as source:
        response = source.response
        if response.status_code != 200:
            response.read()
            return ChatResult(response.status_code, response.headers, body=response.json())
        result = ChatResult(response.status_code, response.headers)
        for event in source.iter_sse():
            if event.data == "[DONE]":
                result.done = True
                break
            result.chunks.append(orjson.loads(event.data))
        return result


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
