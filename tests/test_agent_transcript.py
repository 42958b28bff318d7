"""A turn's transcript: the typed parts it keeps, and a stored answer turned back into model messages."""

from __future__ import annotations

from parlor.agent.tools import ToolResult
from parlor.agent.transcript import Transcript, parts_to_messages, render_answer
from parlor.llm import LLMMessage, ToolCall
from parlor.messages import SourcePart, StepStartPart, TextPart, ToolCallPart, ToolResultPart

SOURCE = SourcePart("d:1", "text/plain", "notes.txt")


def test_streamed_text_becomes_one_text_part_per_run_of_text() -> None:
    transcript = Transcript()
    transcript.start_step()
    for chunk in ("Let ", "me ", "look."):
        transcript.add_text(chunk)
    transcript.add_tool("c1", "search", {"q": "x"}, ToolResult(True, {"hits": 1}, 2.0, (SOURCE,)))
    transcript.start_step()
    transcript.add_text("Found it.")
    assert transcript.parts == (StepStartPart(), TextPart("Let me look."), ToolCallPart("c1", "search", {"q": "x"}),
                                ToolResultPart("c1", "search", {"hits": 1}, duration_ms=2.0), SOURCE,
                                StepStartPart(), TextPart("Found it."))
    assert transcript.text == "Let me look.Found it."


def test_a_failed_tool_keeps_its_error_not_an_output() -> None:
    transcript = Transcript()
    transcript.add_tool("c1", "calculator", "{bad", ToolResult(False, "invalid arguments", 0.0))
    assert transcript.parts[1] == ToolResultPart("c1", "calculator", None, "invalid arguments", 0.0)


def test_each_step_s_calls_come_back_paired_with_their_results() -> None:
    parts = (StepStartPart(), TextPart("Checking."), ToolCallPart("c1", "calculator", {"expression": "2+2"}),
             ToolCallPart("c2", "calculator", "{bad"), ToolResultPart("c2", "calculator", error="invalid"),
             ToolResultPart("c1", "calculator", 4), StepStartPart(), TextPart("It is 4."))
    assert parts_to_messages(parts) == [
        LLMMessage("assistant", "Checking.", (ToolCall("c1", "calculator", '{"expression":"2+2"}'),
                                              ToolCall("c2", "calculator", '"{bad"'))),
        LLMMessage("tool", "4", tool_call_id="c1", tool_name="calculator"),  # in the calls' order
        LLMMessage("tool", "invalid", tool_call_id="c2", tool_name="calculator", tool_error=True),
        LLMMessage("assistant", "It is 4."),
    ]


def test_a_call_a_stop_cut_short_is_left_out_and_plain_text_stays_text() -> None:
    assert parts_to_messages((StepStartPart(), TextPart("Hm"), ToolCallPart("c1", "calculator", {}))) == [
        LLMMessage("assistant", "Hm")]
    assert render_answer((), "plain") == [LLMMessage("assistant", "plain")]
    assert render_answer((), "") == []
