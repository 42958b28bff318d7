"""A turn's run record (``GET /api/admin/runs/{request_id}``), which is written just after the turn ends."""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from tests.client import auth
from tests.helpers.wait import wait_for_sync


class Server(Protocol):
    """A running Parlor server (``tests.server.ParlorServer`` or the conftest's ``RunningServer``)."""

    @property
    def url(self) -> str: ...

    @property
    def admin_token(self) -> str: ...


def run_record(server: Server, request_id: str, seconds: float = 10) -> dict[str, Any]:
    """The run record of ``request_id`` as an admin sees it, polled until it exists (at most ``seconds``)."""
    def found() -> dict[str, Any] | None:
        response = httpx.get(f"{server.url}/api/admin/runs/{request_id}", headers=auth(server.admin_token))
        return response.json() if response.status_code == 200 else None  # type: ignore[no-any-return]

    return wait_for_sync(found, seconds, message=f"no run record for {request_id}")
