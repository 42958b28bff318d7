"""The design brief's minimal relay, for comparison: FastAPI + sse-starlette, the OpenAI SDK streaming
from the upstream, the user message "saved" in a background task, tokens flushed every 3.

No auth, no limits, no history, no real storage: the floor of what a Python relay costs per stream.
Run: `RELAY_UPSTREAM=http://127.0.0.1:9100/v1 uvicorn bench.peers.relay:app --workers 2`.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator

from fastapi import FastAPI
from openai import AsyncOpenAI
from pydantic import BaseModel
from sse_starlette.sse import EventSourceResponse

app = FastAPI()
client = AsyncOpenAI(base_url=os.environ.get("RELAY_UPSTREAM", "http://127.0.0.1:9100/v1"), api_key="none")
saved: list[tuple[str, str]] = []
background: set[asyncio.Task[None]] = set()


class ChatRequest(BaseModel):
    message: str
    thread_id: str


async def save_user_message(message: str, thread_id: str) -> None:
    saved.append((thread_id, message))


async def stream_llm_response(message: str, thread_id: str) -> AsyncIterator[str]:
    stream = await client.chat.completions.create(model="bench", stream=True,
                                                  messages=[{"role": "user", "content": message}])
    buffer: list[str] = []
    async for chunk in stream:
        token = chunk.choices[0].delta.content if chunk.choices else None
        if token:
            buffer.append(token)
            if len(buffer) >= 3:  # flush every 3 tokens
                yield "".join(buffer)
                buffer = []
    if buffer:
        yield "".join(buffer)


@app.post("/chat")
async def chat_stream(request: ChatRequest) -> EventSourceResponse:
    async def event_generator() -> AsyncIterator[dict[str, str]]:
        task = asyncio.create_task(save_user_message(request.message, request.thread_id))
        background.add(task)
        task.add_done_callback(background.discard)
        async for chunk in stream_llm_response(request.message, request.thread_id):
            yield {"event": "message", "data": json.dumps({"text": chunk})}
        yield {"event": "done", "data": json.dumps({"status": "complete"})}

    return EventSourceResponse(event_generator())


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
