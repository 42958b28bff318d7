"""A run's events as the Redis copy of its log keeps them: every kind survives the trip typed."""

from __future__ import annotations

from datetime import UTC, datetime

from parlor.chat.eventlog import dump_event, load_event
from parlor.chat.events import (
    SourceFound,
    StepFinished,
    StepStarted,
    TextChunk,
    ToolApprovalRequested,
    ToolCallChunk,
    ToolDenied,
    ToolFailed,
    ToolInputDelta,
    ToolInputInvalid,
    ToolInputReady,
    ToolInputStarted,
    ToolOutput,
    TurnAborted,
    TurnFailed,
    TurnFinished,
    TurnReport,
    TurnStarted,
)
from parlor.messages import SourcePart

EVENTS = [
    TurnStarted("m1", "t1", "r1"), TurnStarted("m2", None, "r2"), StepStarted(), TextChunk("Hé \u00e9 \U0001f600"),
    ToolCallChunk(0, '{"a"', "call_1", "lookup"), ToolCallChunk(0, ": 1}"),
    ToolInputStarted("c1", "calculator"), ToolInputDelta("c1", '{"x": '),
    ToolInputReady("c1", "calculator", {"expression": "2+2"}), ToolInputInvalid("c2", "calculator", "{bad", "invalid"),
    ToolOutput("c1", {"result": 4, "nested": [1, {"a": None}]}, 1.5), ToolFailed("c2", "boom", 0.0),
    SourceFound(SourcePart("d:1", "text/plain", "notes.txt", "notes.txt", {"documentId": "d", "page": None})),
    StepFinished(), TurnFinished("tool-calls", TurnReport("r1", "p", "m", 10, 5, 123.4, 2)),
    TurnFailed("provider_error", "interrupted", TurnReport("r1")), TurnAborted(),
    ToolApprovalRequested("c3", "apr_1"), ToolDenied("c3", "not now"), ToolDenied("c4"),
]


def test_every_event_kind_round_trips() -> None:
    assert [load_event(dump_event(event)) for event in EVENTS] == EVENTS


def test_a_tool_output_that_is_not_plain_json_still_travels() -> None:
    moment = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    loaded = load_event(dump_event(ToolOutput("c1", {"at": moment}, 1.0)))
    assert isinstance(loaded, ToolOutput) and loaded.output == {"at": "2026-12-02T08:00:00Z"}


def test_an_output_json_cannot_hold_is_kept_as_text() -> None:
    loaded = load_event(dump_event(ToolOutput("c1", {"tags": {"a"}, "odd": object}, 1.0)))
    assert isinstance(loaded, ToolOutput) and loaded.output["tags"] == ["a"] and "object" in loaded.output["odd"]
