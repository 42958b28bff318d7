"""The two codecs of sharing and export, on messages as GET /api/threads/{id} gives them: what a share
link keeps of each kind of part (and what it drops), and the Markdown of a chat."""

from __future__ import annotations

from typing import Any

from parlor.api.wire.markdown import chat_markdown
from parlor.api.wire.shared import file_names, linked, public_messages

THREAD = "thread-7"
CITED = {"type": "source-document", "sourceId": "doc-42:3", "mediaType": "application/pdf", "title": "Handbook, p. 12",
         "filename": "handbook.pdf", "providerMetadata": {"parlor": {"documentId": "doc-42", "page": 12, "chunk": 3}}}
MESSAGES: list[dict[str, Any]] = [
    {"id": "0193-user", "role": "user", "metadata": {"status": "complete", "createdAt": "2026-12-04T10:00:00+00:00",
                                                      "model": "m", "tokens_in": 10},
     "parts": [{"type": "text", "text": "What does the handbook say?"},
               {"type": "file", "mediaType": "image/png", "url": f"/api/files/{THREAD}/abcdef0123456789.png",
                "filename": "page.png"},
               {"type": "file", "mediaType": "image/png", "url": "/api/files/other-thread/0123456789abcdef.png"},
               {"type": "data-document", "id": "doc-42", "data": {"documentId": "doc-42", "name": "handbook.pdf"}}]},
    {"id": "0193-answer", "role": "assistant", "metadata": {"status": "complete", "requestId": "req-1"},
     "parts": [{"type": "step-start"},
               {"type": "tool-search_documents", "toolCallId": "call_secret", "state": "output-available",
                "input": {"query": "leave"}, "output": {"hits": 2}, "durationMs": 3.1},
               {"type": "text", "text": "Twenty days of leave [1]."}, CITED,
               {"type": "source-url", "sourceId": "u1", "url": "https://example.org/leave", "title": "Leave law"}]},
]


def test_a_link_keeps_what_the_chat_showed_and_nothing_that_names_anything_else() -> None:
    user, answer = public_messages(MESSAGES, THREAD)
    assert [user["id"], answer["id"]] == ["m1", "m2"]
    assert user["metadata"] == {"status": "complete", "createdAt": "2026-12-04T10:00:00+00:00"}
    assert answer["metadata"] == {"status": "complete"}
    # only this thread's stored file, by name; another route's file and the document card are left out
    assert user["parts"][1:] == [{"type": "file", "mediaType": "image/png", "url": "files/abcdef0123456789.png",
                                  "filename": "page.png"}]
    tool = answer["parts"][1]
    assert tool == {"type": "tool-search_documents", "toolCallId": "call-2-1", "state": "output-available",
                    "input": {"query": "leave"}, "output": {"hits": 2}}
    cited = answer["parts"][3]
    assert cited["title"] == "Handbook, p. 12" and cited["providerMetadata"] == {"parlor": {"page": 12}}
    assert "doc-42" not in str([user, answer]) and THREAD not in str([user, answer])

    snapshot = [user, answer]
    assert file_names(snapshot) == {"abcdef0123456789.png"}
    served = linked(snapshot, "/api/shared/tok/files/")
    assert served[0]["parts"][1]["url"] == "/api/shared/tok/files/abcdef0123456789.png"
    assert snapshot[0]["parts"][1]["url"] == "files/abcdef0123456789.png"  # the stored snapshot is untouched


def test_markdown_has_headings_text_tool_lines_source_links_and_image_references() -> None:
    text = chat_markdown("Leave `policy`", MESSAGES)
    assert text.startswith("# Leave 'policy'\n\n## You\n\nWhat does the handbook say?\n\n")
    assert f"![page.png](/api/files/{THREAD}/abcdef0123456789.png)" in text
    assert "## Parlor\n\n> Tool `search_documents`(`{\"query\":\"leave\"}`): returned `{\"hits\":2}`" in text
    assert "Sources:\n\n1. [Handbook, p. 12](/d/doc-42#page-12)\n2. [Leave law](https://example.org/leave)" in text
    assert chat_markdown(None, []) == "# Untitled chat\n"
