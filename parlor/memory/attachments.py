"""Documents attached to a thread, as the thread keeps them and as the model reads them.

A document uploaded into a thread is stored there as a user message with one `DocumentPart`, so every
client shows it where it was attached. The model never sees the part itself: the context builder gives
it a short plain-text note instead."""

from __future__ import annotations

from collections.abc import Iterable

from parlor.messages import DocumentPart, Part


def document_client_id(document_id: str) -> str:
    """The message's client id: attaching one document to one thread twice stores one message."""
    return f"document:{document_id}"


def note(part: DocumentPart) -> str:
    name = part.name or "a document"
    return f"The user attached the document \u201c{name}\u201d; search_knowledge_base can read it."


def attachment_text(parts: Iterable[Part]) -> str | None:
    """The plain-text note for a message's attached documents, or None when it has none."""
    notes = [note(p) for p in parts if isinstance(p, DocumentPart)]
    return "\n".join(notes) if notes else None
