"""The AI SDK UI codec: a stored message's typed parts as UI message parts, the shape a reloaded thread
shows (the stream's own chunks are checked against the SDK's parser in the server tests)."""

from __future__ import annotations

from parlor.api.wire.ui import UIStreamEncoder, ui_parts
from parlor.chat.events import SourceFound, TextChunk, TurnFinished, TurnReport, TurnStarted
from parlor.messages import (
    DocumentPart,
    DocumentStatus,
    SourcePart,
    StepStartPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)

SOURCE = SourcePart("d1:3", "application/pdf", "lease.pdf, p. 2", "lease.pdf", {"documentId": "d1", "page": 2})


def test_a_tool_call_and_its_result_make_one_tool_part() -> None:
    parts = (StepStartPart(), ToolCallPart("c1", "calculator", {"expression": "2+2"}),
             ToolResultPart("c1", "calculator", {"result": 4}, duration_ms=3.0),
             ToolCallPart("c2", "calculator", "{bad"), ToolResultPart("c2", "calculator", error="invalid arguments"),
             ToolCallPart("c3", "calculator", {}), SOURCE, StepStartPart(), TextPart("4"))
    assert ui_parts(parts) == [
        {"type": "step-start"},
        {"type": "tool-calculator", "toolCallId": "c1", "input": {"expression": "2+2"}, "durationMs": 3.0,
         "state": "output-available", "output": {"result": 4}},
        {"type": "tool-calculator", "toolCallId": "c2", "input": "{bad", "durationMs": 0.0, "state": "output-error",
         "errorText": "invalid arguments"},
        {"type": "tool-calculator", "toolCallId": "c3", "input": {}, "state": "input-available"},
        {"type": "source-document", "sourceId": "d1:3", "mediaType": "application/pdf", "title": "lease.pdf, p. 2",
         "filename": "lease.pdf", "providerMetadata": {"parlor": {"documentId": "d1", "page": 2}}},
        {"type": "step-start"}, {"type": "text", "text": "4"},
    ]


def test_an_attached_document_is_a_data_document_part() -> None:
    part = DocumentPart("d1", "lease.pdf", "application/pdf", DocumentStatus.PROCESSING, 40, "embedding")
    assert ui_parts((part,)) == [{"type": "data-document", "id": "d1", "data": {
        "documentId": "d1", "name": "lease.pdf", "mediaType": "application/pdf", "status": "processing",
        "progress": 40, "stage": "embedding", "error": None}}]


def test_the_stream_cites_a_source_as_the_stored_part_does() -> None:
    encoder = UIStreamEncoder()
    assert encoder.encode(SourceFound(SOURCE)) == ui_parts((SOURCE,))


def test_text_opens_and_closes_a_text_part_and_the_finish_carries_the_report() -> None:
    encoder = UIStreamEncoder()
    chunks = [c for e in (TurnStarted("m1", "t1", "r1"), TextChunk("Hel"), TextChunk("lo"),
                          TurnFinished("stop", TurnReport("r1", "p", "m", 7, 2, 41.26, 1))) for c in encoder.encode(e)]
    assert [c["type"] for c in chunks] == ["start", "text-start", "text-delta", "text-delta", "text-end", "finish"]
    assert chunks[-1]["messageMetadata"] == {"requestId": "r1", "provider": "p", "model": "m",
                                             "usage": {"inputTokens": 7, "outputTokens": 2}, "ttftMs": 41.3,
                                             "modelCalls": 1}
