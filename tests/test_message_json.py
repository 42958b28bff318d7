"""Message parts as storage keeps them: the typed model round-trips, and rows written by earlier
releases (AI SDK UI parts) read into the same model."""

from __future__ import annotations

from datetime import UTC, datetime

from parlor.message_json import dump_parts, load_parts
from parlor.messages import (
    ApprovalPart,
    ApprovalState,
    DataPart,
    DocumentPart,
    DocumentStatus,
    FilePart,
    ReasoningPart,
    SourcePart,
    StepStartPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    text_of,
)

EVERY_KIND = (
    StepStartPart(), ReasoningPart("think first"), TextPart("Let me look."),
    ToolCallPart("c1", "search_knowledge_base", {"query": "rent"}),
    ToolResultPart("c1", "search_knowledge_base", {"results": [1, 2]}, duration_ms=12.5),
    ToolCallPart("c2", "calculator", "{not json"), ToolResultPart("c2", "calculator", error="invalid arguments"),
    SourcePart("d1:3", "application/pdf", "lease.pdf, p. 2", "lease.pdf", {"documentId": "d1", "page": 2}),
    StepStartPart(), TextPart("The rent is 900."),
    FilePart("image/png", "data:image/png;base64,AAAA", "cat.png"),
    DocumentPart("d1", "lease.pdf", "application/pdf", DocumentStatus.READY, 100, "ready"),
    DataPart("weather", {"city": "Oslo"}, "w1"),
    ApprovalPart("apr_1", "c2", datetime(2026, 12, 4, 18, 0, tzinfo=UTC), ApprovalState.DENIED, "not now"),
)


def test_every_part_kind_round_trips_through_json() -> None:
    stored = dump_parts(EVERY_KIND)
    assert [p["kind"] for p in stored][:3] == ["step-start", "reasoning", "text"]
    assert load_parts(stored) == EVERY_KIND
    assert text_of(load_parts(stored)) == "Let me look.The rent is 900."


def test_json_text_and_empty_values_load() -> None:
    import orjson

    assert load_parts(orjson.dumps(dump_parts(EVERY_KIND))) == EVERY_KIND
    assert load_parts(None) == () and load_parts([]) == () and load_parts("[]") == ()


def test_parts_stored_by_an_earlier_release_load_as_the_typed_model() -> None:
    legacy = [
        {"type": "step-start"}, {"type": "text", "text": "Let me look."},
        {"type": "tool-search_knowledge_base", "toolCallId": "c1", "input": {"query": "rent"},
         "durationMs": 12.5, "state": "output-available", "output": {"results": [1, 2]}},
        {"type": "tool-calculator", "toolCallId": "c2", "input": "{not json", "durationMs": 0.0,
         "state": "output-error", "errorText": "invalid arguments"},
        {"type": "source-document", "sourceId": "d1:3", "mediaType": "application/pdf", "title": "lease.pdf, p. 2",
         "filename": "lease.pdf", "providerMetadata": {"parlor": {"documentId": "d1", "page": 2}}},
        {"type": "step-start"}, {"type": "text", "text": "The rent is 900."},
        {"type": "data-document", "id": "d1", "data": {"documentId": "d1", "name": "lease.pdf",
                                                       "mediaType": "application/pdf", "status": "ready",
                                                       "progress": 100, "stage": "ready", "error": None}},
        {"type": "some-future-part", "x": 1},  # unknown kinds are skipped, not fatal
    ]
    assert load_parts(legacy) == (
        StepStartPart(), TextPart("Let me look."),
        ToolCallPart("c1", "search_knowledge_base", {"query": "rent"}),
        ToolResultPart("c1", "search_knowledge_base", {"results": [1, 2]}, duration_ms=12.5),
        ToolCallPart("c2", "calculator", "{not json"),
        ToolResultPart("c2", "calculator", error="invalid arguments"),
        SourcePart("d1:3", "application/pdf", "lease.pdf, p. 2", "lease.pdf", {"documentId": "d1", "page": 2}),
        StepStartPart(), TextPart("The rent is 900."),
        DocumentPart("d1", "lease.pdf", "application/pdf", DocumentStatus.READY, 100, "ready"),
    )


def test_a_legacy_tool_call_cut_short_keeps_its_call_without_a_result() -> None:
    parts = load_parts([{"type": "tool-calculator", "toolCallId": "c9", "input": {}, "state": "input-available"}])
    assert parts == (ToolCallPart("c9", "calculator", {}),)
