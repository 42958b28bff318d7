"""Reasoning from every provider kind streams as AI SDK reasoning parts, is stored with the answer, is
replayed and resumed like text, and is never sent back to a model as if it had said it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from parlor.agent.transcript import Transcript, parts_to_messages
from parlor.api.wire.ui import UIStreamEncoder, ui_parts
from parlor.chat.eventlog import dump_event, load_event
from parlor.chat.events import ReasoningChunk, ReasoningEnded, TextChunk, TurnFinished, coalesce
from parlor.chat.replay import replay
from parlor.llm import LLMMessage
from parlor.message_json import load_parts
from parlor.messages import MessageStatus, ReasoningPart, StepStartPart, StoredMessage, TextPart
from tests import sdk
from tests.anthropic_upstream import AnthropicUpstream
from tests.client import auth, chat
from tests.conftest import upstream_provider
from tests.gemini_upstream import GeminiUpstream
from tests.server import ParlorServer
from tests.upstream import Script, Upstream


def test_the_ui_stream_opens_a_reasoning_part_then_a_text_part() -> None:
    encoder = UIStreamEncoder()
    events = coalesce([ReasoningChunk("Hmm, "), ReasoningChunk("two."), TextChunk("It is "), TextChunk("2."),
                       TurnFinished("stop")])
    chunks = [c for e in events for c in encoder.encode(e)]
    assert [c["type"] for c in chunks] == ["reasoning-start", "reasoning-delta", "reasoning-end", "text-start",
                                           "text-delta", "text-end", "finish"]
    assert chunks[1]["delta"] == "Hmm, two." and chunks[0]["id"] != chunks[3]["id"]


def test_the_transcript_keeps_reasoning_apart_timed_and_the_model_never_sees_it() -> None:
    transcript = Transcript()
    transcript.start_step()
    for piece in ("Think", "ing."):
        transcript.add_reasoning(piece)
        time.sleep(0.05)
    duration = transcript.end_reasoning()
    transcript.add_text("Answer.")
    assert duration is not None and 100 <= duration < 1000
    assert transcript.end_reasoning() is None  # none under way any more
    assert transcript.parts[1:] == (ReasoningPart("Thinking.", duration), TextPart("Answer."))
    assert transcript.text == "Answer."
    assert parts_to_messages(transcript.parts) == [LLMMessage("assistant", "Answer.")]


async def test_a_replayed_answer_says_how_long_it_thought_as_the_stream_did() -> None:
    stored = StoredMessage("m1", None, "assistant", "4.", (StepStartPart(), ReasoningPart("Hmm.", 2400.0),
                                                           TextPart("4.")), MessageStatus.COMPLETE, datetime.now(UTC))
    encoder = UIStreamEncoder()
    chunks = [c async for e in replay(stored, "t1", "r1") for c in encoder.encode(e)]
    [end] = [c for c in chunks if c["type"] == "reasoning-end"]
    assert end["providerMetadata"] == {"parlor": {"durationMs": 2400.0}}
    assert ui_parts(stored.parts)[1] == {"type": "reasoning", "text": "Hmm.",
                                         "providerMetadata": {"parlor": {"durationMs": 2400.0}}}
    assert load_parts([ui_parts(stored.parts)[1]]) == (ReasoningPart("Hmm.", 2400.0),)  # read back alike


def test_how_long_it_thought_survives_the_run_log_a_resume_reads() -> None:
    ended = ReasoningEnded(1234.5)
    assert load_event(dump_event(ended)) == ended


@pytest.fixture(scope="module")
def claude() -> Iterator[AnthropicUpstream]:
    with AnthropicUpstream() as server:
        yield server


@pytest.fixture(scope="module")
def gemini() -> Iterator[GeminiUpstream]:
    with GeminiUpstream() as server:
        yield server


def kinds(upstream: Upstream, claude: AnthropicUpstream, gemini: GeminiUpstream) -> dict[str, dict[str, Any]]:
    return {"openai": upstream_provider(upstream, "openai"),
            "anthropic": {"name": "anthropic", "kind": "anthropic", "base_url": claude.url, "model": "c",
                          "thinking_budget": 1024},  # they think only when asked to
            "gemini": {"name": "gemini", "kind": "gemini", "base_url": gemini.url, "model": "g",
                       "thinking_budget": 1024}}


@pytest.fixture(scope="module")
def servers(upstream: Upstream, claude: AnthropicUpstream, gemini: GeminiUpstream,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ParlorServer]]:
    started: dict[str, ParlorServer] = {}
    try:
        for kind, provider in kinds(upstream, claude, gemini).items():
            started[kind] = ParlorServer(tmp_path_factory.mktemp(kind), [provider]).start()
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
def test_reasoning_streams_is_stored_and_stays_out_of_the_next_prompt(
        kind: str, servers: dict[str, ParlorServer], upstream: Upstream, claude: AnthropicUpstream,
        gemini: GeminiUpstream, marker: str) -> None:
    fake = {"openai": upstream, "anthropic": claude, "gemini": gemini}[kind]
    server = servers[kind]
    key, thread_id = server.create_user(f"thinker-{kind}"), uuid.uuid4().hex
    fake.push(Script(text="Four.", thinking=f"two plus two {marker}"), match=f"sum {marker}")
    result = chat(server.url, key, thread_id, f"sum {marker}")
    assert result.status == 200 and result.text == "Four." and result.types[-1] == "finish"
    reasoning = [c for c in result.chunks if c["type"].startswith("reasoning")]
    assert [c["type"] for c in reasoning] == ["reasoning-start", "reasoning-delta", "reasoning-end"]
    assert reasoning[1]["delta"] == f"two plus two {marker}"
    assert result.types.index("reasoning-start") < result.types.index("text-start")
    thought_ms = reasoning[2]["providerMetadata"]["parlor"]["durationMs"]  # "Thought for N s"
    assert isinstance(thought_ms, float) and thought_ms >= 0

    stored = httpx.get(f"{server.url}/api/threads/{thread_id}", headers=auth(key)).json()["messages"][-1]
    assert {"type": "reasoning", "text": f"two plus two {marker}",
            "providerMetadata": {"parlor": {"durationMs": thought_ms}}} in stored["parts"]
    checked = sdk.validate([stored])  # the AI SDK takes the stored reasoning part when the thread reopens
    assert checked.returncode == 0, checked.stderr

    fake.push(Script(text="Yes."), match=f"again {marker}")
    assert chat(server.url, key, thread_id, f"again {marker}").text == "Yes."
    sent = next(r for r in reversed(fake.requests) if f"again {marker}" in str(r))
    assert f"sum {marker}" in str(sent) and "two plus two" not in str(sent)  # the history, without the thought


def test_the_ai_sdk_parses_a_stream_with_reasoning(sdk_script: Path, servers: dict[str, ParlorServer],
                                                  upstream: Upstream, marker: str) -> None:
    server = servers["openai"]
    upstream.push(Script(text="Done.", thinking="Let me see.", token_delay=0.3), match=f"parse {marker}")
    answer = sdk.send(sdk_script, server.url, server.create_user("sdk-thinker"), uuid.uuid4().hex,
                      f"parse {marker}")
    [reasoning] = [p for p in answer.message["parts"] if p["type"] == "reasoning"]
    assert (reasoning["text"], reasoning["state"]) == ("Let me see.", "done")
    assert 250 <= reasoning["providerMetadata"]["parlor"]["durationMs"] < 2000  # the SDK keeps how long it took
    assert answer.text_line == "TEXT: Done."
