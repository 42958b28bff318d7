"""Documents through a real server: upload (202 at once), progress over SSE until ready, dedupe,
limits and failures, isolation between users, the search tool with page citations as
`source-document` parts, and "is my document ready?" through get_user_data."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import rag_corpus, sdk
from tests.client import auth, chat
from tests.conftest import RunningServer, upstream_provider
from tests.helpers.documents import events, ready, upload
from tests.helpers.runs import run_record
from tests.server import ParlorServer
from tests.upstream import Script, ScriptedToolCall, Upstream

MAX_UPLOAD = 400_000


@pytest.fixture(scope="module")
def kb(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    process = ParlorServer(tmp_path_factory.mktemp("kb"), [upstream_provider(upstream)],
                           PARLOR_MAX_UPLOAD_BYTES=str(MAX_UPLOAD), PARLOR_MAX_DOCUMENT_PAGES="60").start()
    try:
        yield RunningServer(process, process.create_user("kb-alice"))
    finally:
        process.stop()


def test_a_50_page_pdf_is_accepted_at_once_and_progresses_in_order_to_ready(kb: RunningServer) -> None:
    data = rag_corpus.pdf(50, seed=101)
    response = upload(kb, kb.api_key, "handbook.pdf", data)
    assert response.status_code == 202, response.text
    document = response.json()
    assert document["status"] == "queued" and document["content_type"] == "application/pdf"
    seen = events(kb, kb.api_key, document["id"])
    assert seen[-1]["status"] == "ready" and seen[-1]["progress"] == 100
    progress = [e["progress"] for e in seen]
    assert progress == sorted(progress)
    stages = [e["stage"] for e in seen]
    assert stages[-1] == "ready" and stages.index("ready") == len(stages) - 1
    again = events(kb, kb.api_key, document["id"])  # reconnecting resumes from the current state
    assert again == [seen[-1]]
    got = httpx.get(f"{kb.url}/api/documents/{document['id']}", headers=auth(kb.api_key)).json()
    assert got["pages"] == 50 and got["chunks"] >= 50 and got["stage"] == "ready"
    listed = httpx.get(f"{kb.url}/api/documents", headers=auth(kb.api_key)).json()["documents"]
    assert document["id"] in [d["id"] for d in listed]


def test_duplicates_limits_and_broken_files(kb: RunningServer) -> None:
    key = kb.user("dup")
    data = rag_corpus.markdown(3, seed=5)
    first = upload(kb, key, "a.md", data)
    second = upload(kb, key, "renamed.txt", data)
    assert first.status_code == 202 and second.status_code == 200
    assert second.json()["id"] == first.json()["id"] and second.json()["duplicate"] is True

    too_big = upload(kb, key, "big.txt", b"x" * (MAX_UPLOAD + 10))
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] in ("document_too_large",
                                                                              "payload_too_large")
    broken = upload(kb, key, "broken.pdf", b"%PDF-1.5\nthis is not really a PDF")
    assert broken.status_code == 202
    final = events(kb, key, broken.json()["id"])[-1]
    assert final["status"] == "failed" and "PDF" in final["error"]
    empty = upload(kb, key, "empty.md", b"")
    assert empty.json()["status"] == "failed" and empty.json()["error"] == "the file is empty"
    long_pdf = upload(kb, key, "long.pdf", rag_corpus.pdf(61, seed=3))
    final = events(kb, key, long_pdf.json()["id"])[-1]
    assert final["status"] == "failed" and "at most 60" in final["error"]


def test_one_users_documents_are_invisible_to_another(kb: RunningServer, upstream: Upstream, marker: str) -> None:
    alice, bob = kb.user("iso-a"), kb.user("iso-b")
    document = upload(kb, alice, "secret.md", f"# Secret\n\nThe vault code is {marker}-4242.\n".encode()).json()
    ready(kb, alice, document["id"])
    assert httpx.get(f"{kb.url}/api/documents/{document['id']}", headers=auth(bob)).status_code == 404
    assert httpx.delete(f"{kb.url}/api/documents/{document['id']}", headers=auth(bob)).status_code == 404
    assert document["id"] not in [d["id"] for d in
                                  httpx.get(f"{kb.url}/api/documents", headers=auth(bob)).json()["documents"]]
    search = Script(tool_calls=[ScriptedToolCall("search_knowledge_base", json.dumps({"query": "vault code"}))])
    upstream.push(search, match=marker)
    upstream.push(Script(text="Nothing found."), match=marker)
    result = chat(kb.url, bob, uuid.uuid4().hex, f"what is the vault code? {marker}")
    outputs = [c for c in result.chunks if c["type"].startswith("tool-output")]
    assert outputs and "4242" not in json.dumps(outputs)
    assert not [c for c in result.chunks if c["type"] == "source-document"]


def test_the_search_tool_cites_pages_to_the_model_and_the_client(kb: RunningServer, upstream: Upstream,
                                                                  marker: str) -> None:
    key = kb.user("cite")
    document = upload(kb, key, "handbook.pdf", rag_corpus.pdf(50, seed=202)).json()
    ready(kb, key, document["id"])
    query = {"query": "How many days of paid annual leave do employees get?", "top_k": 3}
    upstream.push(Script(tool_calls=[ScriptedToolCall("search_knowledge_base", json.dumps(query))]), match=marker)
    upstream.push(Script(text="27 days [handbook.pdf, page 1]."), match=marker)
    thread_id = uuid.uuid4().hex
    result = chat(kb.url, key, thread_id, f"how much leave do I get? {marker}")
    sources = [c for c in result.chunks if c["type"] == "source-document"]
    assert sources and all(s["mediaType"] == "application/pdf" and s["filename"] == "handbook.pdf" for s in sources)
    assert "handbook.pdf, p. 1" in [s["title"] for s in sources]
    for source in sources:  # where each citation points: document, page, chunk (the sourceId's parts)
        document_id, ordinal = source["sourceId"].split(":")
        where = source["providerMetadata"]["parlor"]
        assert where["documentId"] == document_id == document["id"] and where["chunk"] == int(ordinal)
        assert source["title"] == f"handbook.pdf, p. {where['page']}"
    tool_message = next(m for r in upstream.requests for m in r["messages"]
                        if m["role"] == "tool" and "27 days" in str(m.get("content")))
    fenced = tool_message["content"]  # the result, fenced as data: <tool_result name=…>{json}</tool_result>
    results = json.loads(fenced[fenced.index("{"):fenced.rindex("}") + 1])["results"]
    assert results[0]["document"] == "handbook.pdf" and any(r["page"] == 1 for r in results)
    stored = httpx.get(f"{kb.url}/api/threads/{thread_id}", headers=auth(key)).json()["messages"][-1]["parts"]
    assert [p for p in stored if p["type"] == "source-document"] == sources  # kept as they streamed
    run = run_record(kb, result.headers["x-request-id"])  # the run inspector shows what was retrieved
    retrieved = run["retrieved"]
    assert len(retrieved) == len(results) and all(r["chunk_id"].startswith(document["id"]) for r in retrieved)


def test_get_user_data_answers_is_my_document_ready(kb: RunningServer, upstream: Upstream, marker: str) -> None:
    key = kb.user("ready")
    document = upload(kb, key, "notes.md", rag_corpus.markdown(2, seed=9)).json()
    ready(kb, key, document["id"])
    upstream.push(Script(tool_calls=[ScriptedToolCall("get_user_data", "{}")]), match=marker)
    upstream.push(Script(text="Yes, it is ready."), match=marker)
    result = chat(kb.url, key, uuid.uuid4().hex, f"is my document ready? {marker}")
    output = next(c for c in result.chunks if c["type"] == "tool-output-available")["output"]
    assert [(d["filename"], d["status"], d["progress"]) for d in output["documents"]] == [("notes.md", "ready", 100)]


def test_thanks_does_not_search(kb: RunningServer, upstream: Upstream, marker: str) -> None:
    result = chat(kb.url, kb.api_key, uuid.uuid4().hex, f"thanks {marker}")  # the model decides: it answers
    assert not [c for c in result.chunks if c["type"].startswith("tool-")]
    offered = {t["function"]["name"] for r in upstream.requests if any(marker in str(m.get("content"))
                                                                       for m in r["messages"]) for t in r["tools"]}
    assert "search_knowledge_base" in offered


def test_citations_reach_the_ai_sdk_as_source_parts(kb: RunningServer, upstream: Upstream, sdk_script: Path,
                                                    marker: str) -> None:
    key = kb.user("sdk")
    document = upload(kb, key, "faq.md", rag_corpus.markdown(4, seed=77)).json()
    ready(kb, key, document["id"])
    query = json.dumps({"query": "parental leave weeks"})
    upstream.push(Script(tool_calls=[ScriptedToolCall("search_knowledge_base", query)]), match=marker)
    upstream.push(Script(text="18 weeks."), match=marker)
    thread_id = uuid.uuid4().hex
    message = sdk.send(sdk_script, kb.url, key, thread_id, f"parental leave? {marker}").message
    sources = [p for p in message["parts"] if p["type"] == "source-document"]
    assert sources and sources[0]["filename"] == "faq.md" and sources[0]["mediaType"] == "text/markdown"


def test_delete_removes_the_document_and_its_chunks(kb: RunningServer) -> None:
    key = kb.user("del")
    document = upload(kb, key, "gone.md", rag_corpus.markdown(2, seed=31)).json()
    ready(kb, key, document["id"])
    assert httpx.delete(f"{kb.url}/api/documents/{document['id']}", headers=auth(key)).status_code == 204
    assert httpx.get(f"{kb.url}/api/documents/{document['id']}", headers=auth(key)).status_code == 404
    assert upload(kb, key, "gone.md", rag_corpus.markdown(2, seed=31)).status_code == 202  # new again
