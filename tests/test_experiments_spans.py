"""In process, with settings' experiments: they are seeded into the database at startup (an admin's
later change stands), and a turn's `invoke_agent` span carries `parlor.experiment` and `parlor.variant`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from parlor.app import create_app
from parlor.config import load_settings
from tests.client import chat_body
from tests.conftest import upstream_provider
from tests.upstream import Upstream, last_user_text

ADMIN = "experiments-admin-token"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}


def app_for(tmp_path: Path, upstream: Upstream, prompt: str) -> FastAPI:
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/parlor.db", data_dir=tmp_path, tracing="on",
        providers=[upstream_provider(upstream)], admin_token=ADMIN, default_tier="unlimited",
        web_dir=tmp_path / "no-web",
        experiments=[{"name": "seeded", "variants": [{"name": "only", "system_prompt": prompt}]}])
    return create_app(settings)


@pytest.fixture
async def client(exporter: InMemorySpanExporter, upstream: Upstream, tmp_path: Path,
                 marker: str) -> AsyncIterator[httpx.AsyncClient]:
    app = app_for(tmp_path, upstream, f"Seeded {marker}")
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://parlor",
                                                                   timeout=30) as http:
        yield http


async def test_seeded_experiments_apply_and_turns_carry_their_arm_in_the_trace(
        client: httpx.AsyncClient, exporter: InMemorySpanExporter, upstream: Upstream, marker: str) -> None:
    listed = (await client.get("/api/admin/experiments", headers=ADMIN_HEADERS)).json()["experiments"]
    assert [(e["name"], e["variants"][0]["system_prompt"]) for e in listed] == [("seeded", f"Seeded {marker}")]
    key = (await client.post("/api/users", json={"name": f"u-{uuid.uuid4().hex[:8]}"},
                             headers=ADMIN_HEADERS)).json()["api_key"]
    response = await client.post("/api/chat", json=chat_body(uuid.uuid4().hex, f"hello {marker}"),
                                 headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    [sent] = [r for r in upstream.requests if marker in last_user_text(r)]
    assert sent["messages"][0]["content"].startswith(f"Seeded {marker}")

    trace_id = response.headers["x-trace-id"]
    for _ in range(200):
        turns = [s for s in exporter.get_finished_spans()
                 if s.name == "invoke_agent parlor" and format(s.context.trace_id, "032x") == trace_id]
        if turns:
            break
        await asyncio.sleep(0.02)
    [turn] = turns
    assert turn.attributes is not None
    assert (turn.attributes["parlor.experiment"], turn.attributes["parlor.variant"]) == ("seeded", "only")


async def test_an_admins_change_outlives_the_settings_seed(tmp_path: Path, upstream: Upstream,
                                                           exporter: InMemorySpanExporter) -> None:
    app = app_for(tmp_path, upstream, "first")
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://parlor") as http:
        changed = await http.put("/api/admin/experiments/seeded", headers=ADMIN_HEADERS, json={
            "enabled": False, "variants": [{"name": "only", "system_prompt": "changed"}]})
        assert changed.status_code == 200
    app = app_for(tmp_path, upstream, "first")  # a restart with the same settings
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://parlor") as http:
        got = (await http.get("/api/admin/experiments/seeded", headers=ADMIN_HEADERS)).json()
    assert (got["enabled"], got["variants"][0]["system_prompt"]) == (False, "changed")
