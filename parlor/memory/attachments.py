"""Documents attached to a thread, as the thread keeps them and as the model reads them.

A document uploaded into a thread is stored there as a user message with one AI SDK data part
(`data-document`), so every client shows it where it was attached. The model never sees the part
itself: the context builder gives it a short plain-text note instead."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

DOCUMENT_PART = "data-document"


def document_part(document_id: str, name: str, media_type: str, status: str, progress: int, stage: str,
                  error: str | None) -> dict[str, Any]:
    """The message part for an attached document (status and progress: a snapshot; clients refresh them)."""
    return {"type": DOCUMENT_PART, "id": document_id,
            "data": {"documentId": document_id, "name": name, "mediaType": media_type, "status": status,
                     "progress": progress, "stage": stage, "error": error}}


def document_client_id(document_id: str) -> str:
    """The message's client id: attaching one document to one thread twice stores one message."""
    return f"document:{document_id}"


def note(part: Mapping[str, Any]) -> str:
    data = part.get("data") or {}
    name = str(data.get("name") or "a document")
    return f"The user attached the document \u201c{name}\u201d; search_knowledge_base can read it."


def attachment_text(parts: Iterable[Mapping[str, Any]]) -> str | None:
    """The plain-text note for a message's attached documents, or None when it has none."""
    notes = [note(p) for p in parts if p.get("type") == DOCUMENT_PART]
    return "\n".join(notes) if notes else None
