"""Message parts as JSON: how storage (the `messages.parts` column) and the unsaved-answers file keep
them. Rows written before the typed model hold AI SDK UI message parts instead; `load_parts` reads
those too, so a thread stored by an earlier release loads unchanged (no data migration to run)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson
from pydantic import TypeAdapter

from parlor.messages import (
    DataPart,
    DocumentPart,
    DocumentStatus,
    FilePart,
    Part,
    Parts,
    ReasoningPart,
    SourcePart,
    StepStartPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)

_PARTS: TypeAdapter[list[Part]] = TypeAdapter(list[Part])


def dump_parts(parts: Sequence[Part]) -> list[dict[str, Any]]:
    return _PARTS.dump_python(list(parts), mode="json", fallback=str)  # type: ignore[no-any-return]


def load_parts(raw: Any) -> Parts:
    """Stored parts (a list, or its JSON text) as the typed model, whichever release wrote them."""
    if isinstance(raw, str | bytes):
        raw = orjson.loads(raw)
    if not raw:
        return ()
    if all("kind" in part for part in raw):
        return tuple(_PARTS.validate_python(raw))
    return tuple(_from_ui_parts(raw))


def _from_ui_parts(parts: Iterable[Mapping[str, Any]]) -> Iterator[Part]:
    """The AI SDK UI parts that releases before the typed model stored (unknown kinds are skipped)."""
    for part in parts:
        kind = str(part.get("type", ""))
        if kind == "step-start":
            yield StepStartPart()
        elif kind == "text":
            yield TextPart(str(part.get("text", "")))
        elif kind == "reasoning":
            yield ReasoningPart(str(part.get("text", "")), _duration(part))
        elif kind.startswith("tool-"):
            yield from _tool(kind.removeprefix("tool-"), part)
        elif kind == "source-document":
            yield SourcePart(str(part.get("sourceId", "")), str(part.get("mediaType", "")), str(part.get("title", "")),
                             part.get("filename"), (part.get("providerMetadata") or {}).get("parlor"))
        elif kind == "file":
            yield FilePart(str(part.get("mediaType", "")), str(part.get("url", "")), part.get("filename"))
        elif kind == "data-document":
            yield _document(part.get("data") or {})
        elif kind.startswith("data-"):
            yield DataPart(kind.removeprefix("data-"), dict(part.get("data") or {}), part.get("id"))


def _duration(part: Mapping[str, Any]) -> float | None:
    """A reasoning part's time, where the UI stream put it (`providerMetadata.parlor.durationMs`)."""
    duration = ((part.get("providerMetadata") or {}).get("parlor") or {}).get("durationMs")
    return float(duration) if isinstance(duration, int | float) else None


def _tool(name: str, part: Mapping[str, Any]) -> Iterator[Part]:
    call_id = str(part.get("toolCallId", ""))
    yield ToolCallPart(call_id, name, part.get("input"))
    duration = float(part.get("durationMs") or 0.0)
    if part.get("state") == "output-available":
        yield ToolResultPart(call_id, name, part.get("output"), duration_ms=duration)
    elif part.get("state") == "output-error":
        yield ToolResultPart(call_id, name, error=str(part.get("errorText", "")), duration_ms=duration)


def _document(data: Mapping[str, Any]) -> DocumentPart:
    return DocumentPart(str(data.get("documentId", "")), str(data.get("name", "")), str(data.get("mediaType", "")),
                        DocumentStatus(data.get("status") or "queued"), int(data.get("progress") or 0),
                        str(data.get("stage", "")), data.get("error"))
