"""Documents through a running server's API: upload one, and follow its progress events until it is done."""

from __future__ import annotations

from typing import Any, Protocol

import httpx
import orjson
from httpx_sse import connect_sse

from tests.client import auth


class Server(Protocol):
    """A running Parlor server (``tests.server.ParlorServer`` or the conftest's ``RunningServer``)."""

    @property
    def url(self) -> str: ...


def upload(server: Server, key: str, name: str, data: bytes, thread_id: str | None = None) -> httpx.Response:
    """``POST /api/documents`` as the user of ``key`` (into a thread if ``thread_id`` is given)."""
    form = {"thread_id": thread_id} if thread_id else None
    return httpx.post(f"{server.url}/api/documents", headers=auth(key), files={"file": (name, data)}, data=form,
                      timeout=30)


def events(server: Server, key: str, document_id: str) -> list[dict[str, Any]]:
    """Every progress event of the document, from now until the stream's ``[DONE]`` (it ends once the
    document is ready or failed); the last one is its final state."""
    seen: list[dict[str, Any]] = []
    with httpx.Client(base_url=server.url, headers=auth(key), timeout=60) as client, connect_sse(
            client, "GET", f"/api/documents/{document_id}/events") as source:
        assert source.response.status_code == 200
        for event in source.iter_sse():
            if event.data == "[DONE]":
                break
            seen.append(orjson.loads(event.data))
    return seen


def ready(server: Server, key: str, document_id: str) -> dict[str, Any]:
    """The document's final state, which must be ``ready``."""
    final = events(server, key, document_id)[-1]
    assert final["status"] == "ready", final
    return final
