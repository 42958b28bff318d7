"""The OpenAI codec at the edge: every way a turn ends is a chunk an OpenAI client understands."""

from __future__ import annotations

import pytest

from parlor.api.errors import ApiError
from parlor.api.wire.openai import ChunkEncoder, completion
from parlor.chat.events import ChatEvent, TextChunk, TurnAborted, TurnFailed, TurnFinished, TurnReport, TurnStarted


def test_a_finished_stream_ends_with_its_finish_reason_and_usage() -> None:
    encoder = ChunkEncoder("chatcmpl-1", "m", include_usage=True)
    finish, usage = encoder.encode(TurnFinished("length", TurnReport(tokens_in=3, tokens_out=4)))
    assert finish["choices"][0]["finish_reason"] == "length"
    assert usage["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


def test_a_failed_stream_ends_with_an_error_object_naming_the_code() -> None:
    [chunk] = ChunkEncoder("chatcmpl-1", "m", include_usage=False).encode(TurnFailed("provider_error", "down"))
    assert chunk == {"error": {"message": "down", "type": "server_error", "code": "provider_error"}}


def test_an_aborted_stream_ends_with_an_error_not_silence() -> None:
    # a deploy's drain stops the run: OpenAI's stream has no abort chunk, and a stream that just stops
    # looks like a complete answer to the SDKs
    [chunk] = ChunkEncoder("chatcmpl-1", "m", include_usage=False).encode(TurnAborted())
    assert chunk["error"]["code"] == "aborted" and "retry" in chunk["error"]["message"]


def test_a_completion_joins_the_text_of_a_finished_turn() -> None:
    events = [TurnStarted("a", None, "r"), TextChunk("Hel"), TextChunk("lo"), TurnFinished("stop")]
    body = completion("chatcmpl-1", "m", events)
    assert body["choices"][0]["message"]["content"] == "Hello"
    assert body["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("events", [[TurnStarted("a", None, "r"), TextChunk("Hel"), TurnAborted()], []])
def test_a_completion_stopped_before_its_end_is_a_503_to_retry(events: list[ChatEvent]) -> None:
    with pytest.raises(ApiError) as raised:
        completion("chatcmpl-1", "m", events)
    assert (raised.value.status, raised.value.code) == (503, "aborted")


@pytest.mark.parametrize(("code", "status"), [("providers_unavailable", 503), ("storage_unavailable", 503),
                                              ("provider_error", 502)])
def test_a_failed_completion_is_an_error_with_its_code(code: str, status: int) -> None:
    with pytest.raises(ApiError) as raised:
        completion("chatcmpl-1", "m", [TextChunk("x"), TurnFailed(code, "no")])
    assert (raised.value.status, raised.value.code) == (status, code)
