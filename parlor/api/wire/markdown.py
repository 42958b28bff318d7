"""A chat as Markdown, for "export this chat": a heading per message, its text, its tool calls in one
line each, its sources as links and its images as image references (by the URLs the chat uses)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from parlor.api.wire.shared import Chunk

ROLES = {"user": "You", "assistant": "Parlor", "system": "System"}
SHOWN_INPUT = 200  # characters of a tool call's input in its summary line


def chat_markdown(title: str | None, messages: Iterable[Chunk]) -> str:
    blocks = [f"# {_line(title or 'Untitled chat')}"]
    for message in messages:
        blocks.append(f"## {ROLES.get(message['role'], message['role'])}")
        blocks += [b for b in (_block(p) for p in message["parts"]) if b]
        sources = [s for s in (_source(p) for p in message["parts"]) if s]
        if sources:
            blocks.append("Sources:\n\n" + "\n".join(f"{n}. {s}" for n, s in enumerate(sources, start=1)))
    return "\n\n".join(blocks) + "\n"


def _block(part: Chunk) -> str | None:
    kind = str(part.get("type", ""))
    if kind == "text":
        return str(part.get("text", "")).strip() or None
    if kind.startswith("tool-"):
        return f"> Tool `{kind.removeprefix('tool-')}`({_short(part.get('input'))}): {_outcome(part)}"
    if kind == "file":
        name = _line(part.get("filename") or "file")
        image = str(part.get("mediaType", "")).startswith("image/")
        return f"{'!' if image else ''}[{name}]({part.get('url', '')})"
    return None  # reasoning, step boundaries, data parts: not part of the conversation's text


def _outcome(part: Chunk) -> str:
    state = part.get("state")
    if state == "output-error":
        return f"failed: {_line(str(part.get('errorText', '')))}"
    if state == "output-available":
        return f"returned {_short(part.get('output'))}"
    return "no result"


def _source(part: Chunk) -> str | None:
    if part.get("type") == "source-url":
        return f"[{_line(part.get('title') or part.get('url', ''))}]({part.get('url', '')})"
    if part.get("type") != "source-document":
        return None
    title = _line(part.get("title") or part.get("filename") or "Document")
    where = (part.get("providerMetadata") or {}).get("parlor") or {}
    document = where.get("documentId")
    if not isinstance(document, str):
        return title
    page = where.get("page")
    return f"[{title}](/d/{document}{f'#page-{page}' if isinstance(page, int) else ''})"


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = _line(text)
    return f"`{text[:SHOWN_INPUT]}{'…' if len(text) > SHOWN_INPUT else ''}`"


def _line(text: str) -> str:
    return " ".join(str(text).split()).replace("`", "'")
