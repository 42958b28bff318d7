"""`parlor chat`: a terminal client of a running server's /api/chat, one turn per line, in one thread."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable

import click
import httpx
import orjson
from httpx_sse import aconnect_sse

DEFAULT_URL = "http://127.0.0.1:8000"  # where `parlor serve` listens by default


def chat_lines(url: str, key: str | None, thread_id: str, lines: Iterable[str]) -> None:
    """Sends each non-blank line as a turn and streams its reply; a server that cannot be reached or
    refuses is one line saying what to do, never a traceback."""
    for line in lines:
        if line.strip():
            try:
                asyncio.run(_stream_reply(url, key, thread_id, line))
            except (httpx.ConnectError, httpx.ConnectTimeout):
                raise click.ClickException(f"cannot reach {url} — start `parlor serve` or pass `--url`") from None
            except httpx.HTTPError as exc:  # the server went away mid-answer, or the URL is not one
                raise click.ClickException(f"{url}: {type(exc).__name__}: {exc}") from None


async def _stream_reply(url: str, key: str | None, thread_id: str, text: str) -> None:
    body = {"id": thread_id, "trigger": "submit-message",
            "messages": [{"id": uuid.uuid4().hex, "role": "user", "parts": [{"type": "text", "text": text}]}]}
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    timeout = httpx.Timeout(300, connect=5)
    async with (
        httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout) as client,
        aconnect_sse(client, "POST", "/api/chat", json=body) as source,
    ):
        if source.response.status_code != 200:
            await source.response.aread()
            raise click.ClickException(_refusal(source.response, key))
        async for event in source.aiter_sse():
            if event.data == "[DONE]":
                break
            chunk = orjson.loads(event.data)
            if chunk["type"] == "text-delta":
                click.echo(chunk["delta"], nl=False)
            elif chunk["type"] == "error":
                click.echo(f"\n[error] {chunk['errorText']}", err=True)
    click.echo()


def _refusal(response: httpx.Response, key: str | None) -> str:
    """A non-2xx answer as one line: its status, and the error envelope's code and message."""
    try:
        error = response.json()["error"]
        said = f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        said = response.text[:200]
    hint = " — pass --key or set PARLOR_API_KEY" if response.status_code == 401 and not key else ""
    return f"{response.status_code} {said}{hint}"
