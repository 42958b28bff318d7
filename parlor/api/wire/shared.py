"""A chat's UI messages as a share link shows them to anyone: what the chat showed, and nothing that
names or reaches anything else. Message, tool-call and source ids are renumbered; metadata keeps only
the time and status; documents' ids go (a citation keeps its title and page, not a link to a private
document); attached documents' cards go; a file keeps only its name, and only when it is one of this
thread's stored images or PDFs (`files/<name>`, made into the link's own file route when served)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from parlor.attachments.store import NAME, ROUTE

Chunk = dict[str, Any]
FILES = "files/"  # a snapshot's file URL: relative to the link, which is not stored
SHOWN_METADATA = ("createdAt", "status")
TOOL_FIELDS = ("type", "state", "input", "output", "errorText")


def public_messages(messages: Iterable[Chunk], thread_id: str) -> list[Chunk]:
    """The snapshot a link keeps of `messages` (UI messages as GET /api/threads/{id} gives them)."""
    out: list[Chunk] = []
    for n, message in enumerate((m for m in messages if m["role"] in ("user", "assistant")), start=1):
        metadata = {k: v for k, v in (message.get("metadata") or {}).items() if k in SHOWN_METADATA}
        parts = [p for p in (_part(part, thread_id, n, i) for i, part in enumerate(message["parts"])) if p]
        out.append({"id": f"m{n}", "role": message["role"], "parts": parts, "metadata": metadata})
    return out


def _part(part: Chunk, thread_id: str, n: int, i: int) -> Chunk | None:
    kind = str(part.get("type", ""))
    if kind in ("text", "reasoning", "step-start"):
        return part
    if kind.startswith("tool-"):
        return {"toolCallId": f"call-{n}-{i}", **{k: part[k] for k in TOOL_FIELDS if k in part}}
    if kind == "source-document":
        return _source(part, n, i)
    if kind == "source-url":
        return {"type": kind, "sourceId": f"source-{n}-{i}", "url": part.get("url"), "title": part.get("title")}
    if kind == "file":
        return _file(part, thread_id)
    return None  # data parts (a document's card and progress): the document is not shared


def _source(part: Chunk, n: int, i: int) -> Chunk:
    cited: Chunk = {"type": "source-document", "sourceId": f"source-{n}-{i}",
                    "mediaType": part.get("mediaType", "text/plain"), "title": part.get("title", "")}
    if part.get("filename"):
        cited["filename"] = part["filename"]
    page = ((part.get("providerMetadata") or {}).get("parlor") or {}).get("page")
    if isinstance(page, int):
        cited["providerMetadata"] = {"parlor": {"page": page}}
    return cited


def _file(part: Chunk, thread_id: str) -> Chunk | None:
    name = str(part.get("url", "")).removeprefix(f"{ROUTE}{thread_id}/")
    if not NAME.match(name):
        return None  # not one of this thread's stored files (a data: URL, another route)
    kept: Chunk = {"type": "file", "mediaType": part.get("mediaType"), "url": FILES + name}
    if part.get("filename"):
        kept["filename"] = part["filename"]
    return kept


def file_names(snapshot: Iterable[Chunk]) -> set[str]:
    """The files a snapshot shows: the only ones its link serves."""
    return {p["url"].removeprefix(FILES) for m in snapshot for p in m["parts"]
            if p.get("type") == "file" and str(p.get("url", "")).startswith(FILES)}


def linked(snapshot: Iterable[Chunk], base: str) -> list[Chunk]:
    """The snapshot with its files' URLs under `base` (the link's file route, ending in /)."""
    return [{**m, "parts": [{**p, "url": base + p["url"].removeprefix(FILES)}
                            if p.get("type") == "file" and str(p.get("url", "")).startswith(FILES) else p
                            for p in m["parts"]]} for m in snapshot]

