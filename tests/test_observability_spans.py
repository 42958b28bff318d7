"""Tracing, in process: the app's spans go to an in-memory exporter; each has the right parent, the
model call carries the GenAI semantic conventions, and the request id ties the trace to the request."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from parlor.app import create_app
from parlor.config import load_settings
from parlor.observability.logs import configure_logging
from parlor.observability.probe import Probe, bind_probe, unbind_probe
from parlor.rag.retrieval import Retriever
from parlor.rag.store import Hit, Scope
from tests.client import chat_body
from tests.conftest import upstream_provider
from tests.upstream import Script, ScriptedToolCall, Upstream

ADMIN = "spans-admin-token"


@pytest.fixture
async def client(exporter: InMemorySpanExporter, upstream: Upstream,
                 tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/parlor.db", data_dir=tmp_path, tracing="on",
        providers=[upstream_provider(upstream)], admin_token=ADMIN, default_tier="unlimited",
        web_dir=tmp_path / "no-web")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://parlor", timeout=30) as http:
            yield http


async def new_key(client: httpx.AsyncClient) -> str:
    response = await client.post("/api/users", json={"name": f"u-{uuid.uuid4().hex[:8]}"},
                                 headers={"Authorization": f"Bearer {ADMIN}"})
    key: str = response.json()["api_key"]
    return key


async def spans_of(exporter: InMemorySpanExporter, trace_id: str, name: str) -> list[ReadableSpan]:
    """The trace's spans, once one named `name` has ended (the turn ends after the response)."""
    for _ in range(200):
        spans = [s for s in exporter.get_finished_spans() if format(s.context.trace_id, "032x") == trace_id]
        if any(s.name == name for s in spans):
            return spans
        await asyncio.sleep(0.02)
    raise AssertionError(f"no span {name!r} in trace {trace_id}")


def one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_a_turn_is_one_trace_with_genai_spans(client: httpx.AsyncClient, exporter: InMemorySpanExporter,
                                                    upstream: Upstream, marker: str) -> None:
    key = await new_key(client)
    upstream.push(Script(tool_calls=[ScriptedToolCall("calculator", json.dumps({"expression": "6*7"}))]),
                  match=marker)
    upstream.push(Script(text="It is 42."), match=marker)
    request_id = f"req-{uuid.uuid4().hex[:12]}"
    response = await client.post("/api/chat", json=chat_body(uuid.uuid4().hex, f"six times seven {marker}"),
                                 headers={"Authorization": f"Bearer {key}", "X-Request-ID": request_id})
    assert response.status_code == 200
    assert "It is 42." in response.text
    trace_id = response.headers["x-trace-id"]
    assert len(trace_id) == 32

    spans = await spans_of(exporter, trace_id, "invoke_agent parlor")
    request = one(spans, "POST /api/chat")
    assert request.parent is None and request.kind is trace.SpanKind.SERVER
    assert request.attributes is not None and request.attributes["parlor.request_id"] == request_id
    assert request.attributes["http.response.status_code"] == 200
    context = one(spans, "parlor.context")
    assert parent_of(context) == request.context.span_id
    turn = one(spans, "invoke_agent parlor")
    assert parent_of(turn) == request.context.span_id
    assert turn.attributes is not None and turn.attributes["parlor.request_id"] == request_id

    calls = [s for s in spans if s.name == "chat test-model"]
    assert len(calls) == 2  # the tool call, then the answer
    for call in calls:
        assert parent_of(call) == turn.context.span_id and call.kind is trace.SpanKind.CLIENT
        attributes = call.attributes or {}
        assert attributes["gen_ai.operation.name"] == "chat"
        assert attributes["gen_ai.system"] == "openai"
        assert attributes["gen_ai.request.model"] == "test-model"
        assert attributes["gen_ai.usage.input_tokens"] > 0
        assert attributes["gen_ai.usage.output_tokens"] > 0
        assert attributes["gen_ai.server.time_to_first_token"] > 0
        assert attributes["parlor.request_id"] == request_id
    assert [c.attributes["gen_ai.response.finish_reasons"] for c in calls if c.attributes] == [
        ("tool_calls",), ("stop",)]

    tool = one(spans, "execute_tool calculator")
    assert parent_of(tool) == turn.context.span_id
    assert tool.attributes is not None and tool.attributes["gen_ai.tool.name"] == "calculator"

    database = [s for s in spans if (s.attributes or {}).get("db.system") == "sqlite"
                or (s.attributes or {}).get("db.system.name") == "sqlite"]
    assert database, "the SQLAlchemy instrumentation records the turn's queries"
    ids = {s.context.span_id for s in spans}
    assert all(parent_of(s) in ids for s in database)


async def test_the_trace_id_joins_the_callers_trace(client: httpx.AsyncClient) -> None:
    caller = "0af7651916cd43dd8448eb211c80319c"
    response = await client.get("/healthz", headers={"traceparent": f"00-{caller}-b7ad6b7169203331-01"})
    assert response.headers["x-trace-id"] == caller


async def test_one_request_id_in_its_log_lines_spans_usage_row_and_run_record(
        client: httpx.AsyncClient, exporter: InMemorySpanExporter, tmp_path: Path, marker: str) -> None:
    key = await new_key(client)
    request_id = f"req-{uuid.uuid4().hex[:12]}"
    stream, root = io.StringIO(), logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("info", "json", stream=stream)
    try:
        response = await client.post("/api/chat", json=chat_body(uuid.uuid4().hex, f"hello {marker}"),
                                     headers={"Authorization": f"Bearer {key}", "X-Request-ID": request_id})
        assert response.status_code == 200 and response.headers["x-request-id"] == request_id
        trace_id = response.headers["x-trace-id"]
        record: dict[str, Any] = {}
        for _ in range(200):
            found = await client.get(f"/api/admin/runs/{request_id}", headers={"Authorization": f"Bearer {ADMIN}"})
            if found.status_code == 200:
                record = found.json()
                break
            await asyncio.sleep(0.02)
    finally:
        root.handlers, _ = saved[0], root.setLevel(saved[1])
    assert record["request_id"] == request_id and record["trace_id"] == trace_id  # its run record
    assert record["providers"][0]["provider"] == "up"
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    summary = [line for line in lines if line.get("request_id") == request_id and line["event"] == "request"]
    assert summary and summary[0]["trace_id"] == trace_id and summary[0]["path"] == "/api/chat"  # its log line
    spans = await spans_of(exporter, trace_id, "invoke_agent parlor")
    server = next(span for span in spans if span.kind is trace.SpanKind.SERVER)
    assert server.attributes is not None and server.attributes["parlor.request_id"] == request_id  # its trace
    with sqlite3.connect(tmp_path / "parlor.db") as db:  # its usage row
        rows = db.execute("SELECT request_id, status FROM usage WHERE request_id = ?", (request_id,)).fetchall()
    assert rows == [(request_id, "complete")]


async def test_a_search_is_a_retrieval_span_under_its_tool_call(exporter: InMemorySpanExporter) -> None:
    class Embedder:
        async def embed(self, texts: list[str]) -> np.ndarray:
            return np.ones((len(texts), 4), dtype=np.float32)

    class Store:
        async def vector_search(self, scope: Scope, vector: np.ndarray, k: int) -> list[Hit]:
            return [Hit("d1", 0, 1, "alpha", "a.pdf", 0.9), Hit("d1", 1, 1, "beta", "a.pdf", 0.5)]

        async def text_search(self, scope: Scope, query: str, k: int) -> list[Hit]:
            return [Hit("d1", 1, 1, "beta", "a.pdf", 3.0)]

    retriever = Retriever(Embedder(), Store())  # type: ignore[arg-type]
    probe = Probe("req-retrieval")
    token = bind_probe(probe)
    try:
        with trace.get_tracer("test").start_as_current_span("execute_tool search_knowledge_base") as tool:
            hits = await retriever.search(Scope("u1"), "what is beta", 1)
            await retriever.search(Scope("u1"), "and alpha", 2)
    finally:
        unbind_probe(token)
    assert [h.ordinal for h in hits] == [1]
    spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == tool.get_span_context().trace_id]
    searches = [s for s in spans if s.name == "parlor.retrieval"]
    assert len(searches) == 2 and all(parent_of(s) == tool.get_span_context().span_id for s in searches)
    assert searches[0].attributes is not None and searches[0].attributes["parlor.retrieval.top_k"] == 1
    assert searches[0].attributes["parlor.retrieval.hits"] == 1
    assert probe.phases["retrieval"] > 0  # both searches' time, in the run record's timings
