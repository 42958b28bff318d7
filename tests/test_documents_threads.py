"""Documents in threads and the data behind citations, through a real server: an upload into a thread
shows there as a `data-document` message (a note for the model, a part the AI SDK accepts), citations
carry where they point, a resent message replays its citations, and a document's chunks and file."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import rag_corpus, sdk
from tests.client import auth, chat
from tests.conftest import RunningServer, upstream_provider
from tests.helpers.documents import ready, upload
from tests.server import ParlorServer
from tests.upstream import Script, ScriptedToolCall, Upstream

NOTE = "The user attached the document \u201c{}\u201d; search_knowledge_base can read it."


@pytest.fixture(scope="module")
def kb(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    process = ParlorServer(tmp_path_factory.mktemp("kb-threads"), [upstream_provider(upstream)]).start()
    try:
        yield RunningServer(process, process.create_user("kbt-alice"))
    finally:
        process.stop()


def thread(server: RunningServer, key: str, thread_id: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/api/threads/{thread_id}", headers=auth(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def listed(server: RunningServer, key: str, thread_id: str | None = None) -> list[str]:
    params = {"thread_id": thread_id} if thread_id else None
    response = httpx.get(f"{server.url}/api/documents", headers=auth(key), params=params)
    assert response.status_code == 200, response.text
    return [d["id"] for d in response.json()["documents"]]


def test_an_upload_into_a_thread_is_a_data_document_message_there(kb: RunningServer) -> None:
    alice, bob = kb.user("att-a"), kb.user("att-b")
    thread_id = uuid.uuid4().hex
    response = upload(kb, alice, "policy.md", rag_corpus.markdown(2, seed=41), thread_id)
    assert response.status_code == 202, response.text
    document = response.json()
    got = thread(kb, alice, thread_id)  # the thread was created, the caller's, named after the file
    assert got["title"] == "policy.md"
    [message] = got["messages"]
    assert message["id"] == document["message_id"] and message["role"] == "user"
    assert message["parts"] == [{"type": "data-document", "id": document["id"], "data": {
        "documentId": document["id"], "name": "policy.md", "mediaType": "text/markdown", "status": "queued",
        "progress": 0, "stage": "queued", "error": None}}]

    ready(kb, alice, document["id"])
    again = upload(kb, alice, "policy.md", rag_corpus.markdown(2, seed=41), thread_id)
    assert again.status_code == 200 and again.json()["message_id"] == document["message_id"]
    assert len(thread(kb, alice, thread_id)["messages"]) == 1  # attached once

    library = upload(kb, alice, "library.md", rag_corpus.markdown(1, seed=42)).json()
    assert "message_id" not in library
    assert listed(kb, alice, thread_id) == [document["id"]]
    assert set(listed(kb, alice)) == {document["id"], library["id"]}

    stolen = upload(kb, bob, "mine.md", rag_corpus.markdown(1, seed=43), thread_id)
    assert stolen.status_code == 404 and stolen.json()["error"]["code"] == "thread_not_found"
    assert listed(kb, bob) == [] and len(thread(kb, alice, thread_id)["messages"]) == 1
    assert httpx.get(f"{kb.url}/api/documents", headers=auth(bob), params={"thread_id": thread_id}).json() == {
        "documents": []}
    bad = upload(kb, alice, "x.md", b"# x\n\ny\n", "not a thread id!")
    assert bad.status_code == 422


def test_the_model_reads_a_note_and_the_ai_sdk_takes_the_thread(kb: RunningServer, upstream: Upstream,
                                                                sdk_script: Path, marker: str) -> None:
    key = kb.user("note")
    thread_id = uuid.uuid4().hex
    document = upload(kb, key, "benefits.md", rag_corpus.markdown(4, seed=77), thread_id).json()
    ready(kb, key, document["id"])
    query = json.dumps({"query": "parental leave weeks"})
    upstream.push(Script(tool_calls=[ScriptedToolCall("search_knowledge_base", query)]), match=marker)
    upstream.push(Script(text="18 weeks."), match=marker)
    message = sdk.send(sdk_script, kb.url, key, thread_id, f"parental leave? {marker}").message
    sources = [p for p in message["parts"] if p["type"] == "source-document"]  # the thread's own document
    assert sources and {s["providerMetadata"]["parlor"]["documentId"] for s in sources} == {document["id"]}
    first = next(r for r in upstream.requests if marker in json.dumps(r["messages"]))
    users = [m["content"] for m in first["messages"] if m["role"] == "user"]
    assert users == [NOTE.format("benefits.md"), f"parental leave? {marker}"]
    assert "data-document" not in json.dumps(first["messages"])

    follow_up = sdk.send(sdk_script, kb.url, key, thread_id, f"thanks {marker}")
    assert follow_up.ok, follow_up.process.stderr
    assert [m["role"] for m in thread(kb, key, thread_id)["messages"]] == ["user", "user", "assistant", "user",
                                                                          "assistant"]


def test_is_my_document_ready_from_the_thread(kb: RunningServer, upstream: Upstream, marker: str) -> None:
    key = kb.user("ready-t")
    thread_id = uuid.uuid4().hex
    document = upload(kb, key, "report.md", rag_corpus.markdown(2, seed=51), thread_id).json()
    ready(kb, key, document["id"])
    upstream.push(Script(tool_calls=[ScriptedToolCall("get_user_data", "{}")]), match=marker)
    upstream.push(Script(text="Yes, report.md is ready."), match=marker)
    result = chat(kb.url, key, thread_id, f"is my document ready? {marker}")
    output = next(c for c in result.chunks if c["type"] == "tool-output-available")["output"]
    assert [(d["id"], d["status"], d["thread_id"]) for d in output["documents"]] == [
        (document["id"], "ready", thread_id)]


def test_a_resent_message_replays_its_citations(kb: RunningServer, upstream: Upstream, sdk_script: Path,
                                                marker: str) -> None:
    key = kb.user("replay")
    document = upload(kb, key, "handbook.pdf", rag_corpus.pdf(5, seed=61)).json()
    ready(kb, key, document["id"])
    query = json.dumps({"query": "paid annual leave days", "top_k": 3})
    upstream.push(Script(tool_calls=[ScriptedToolCall("search_knowledge_base", query)]), match=marker)
    upstream.push(Script(text="See the handbook."), match=marker)
    thread_id, message_id = uuid.uuid4().hex, f"u-{uuid.uuid4().hex}"

    def send() -> dict[str, Any]:
        return sdk.send(sdk_script, kb.url, key, thread_id, f"leave? {marker}", message_id).message

    first = send()
    calls = len(upstream.requests)
    second = send()  # the same message again: the stored answer, not a new generation
    assert len(upstream.requests) == calls
    cited = [p for p in first["parts"] if p["type"] == "source-document"]
    assert cited and all(p["providerMetadata"]["parlor"]["page"] in range(1, 6) for p in cited)
    assert [p for p in second["parts"] if p["type"] == "source-document"] == cited
    assert second["id"] == first["id"]


def test_a_documents_chunks_and_file_are_its_owners(kb: RunningServer) -> None:
    alice, bob = kb.user("page-a"), kb.user("page-b")
    data = rag_corpus.pdf(3, seed=71)
    document = upload(kb, alice, "Prüfbericht 2024.pdf", data).json()
    ready(kb, alice, document["id"])
    base = f"{kb.url}/api/documents/{document['id']}"
    chunks = httpx.get(f"{base}/chunks", headers=auth(alice)).json()["chunks"]
    assert [c["ordinal"] for c in chunks] == list(range(len(chunks))) and len(chunks) >= 3
    assert [c["page"] for c in chunks] == sorted(c["page"] for c in chunks) and {c["page"] for c in chunks} == {
        1, 2, 3}
    assert all(c["text"].strip() for c in chunks)

    file = httpx.get(f"{base}/file", headers=auth(alice))
    assert file.status_code == 200 and file.content == data
    assert file.headers["content-type"] == "application/pdf"
    assert file.headers["x-content-type-options"] == "nosniff"
    assert file.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''Pr%C3%BCfbericht%202024.pdf" in file.headers["content-disposition"]

    for path in ("chunks", "file"):
        other = httpx.get(f"{base}/{path}", headers=auth(bob))
        assert other.status_code == 404 and other.json()["error"]["code"] == "document_not_found"
    page = upload(kb, alice, "page.html", b"<html><body><h1>Hi</h1><p>Text here.</p></body></html>").json()
    ready(kb, alice, page["id"])
    html = httpx.get(f"{kb.url}/api/documents/{page['id']}/file", headers=auth(alice))
    assert html.headers["content-type"].startswith("text/html") and html.headers["content-disposition"].startswith(
        "attachment;")
    assert httpx.get(f"{kb.url}/api/documents/{page['id']}/chunks", headers=auth(alice)).json()["chunks"][0][
        "page"] is None
