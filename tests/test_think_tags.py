"""`<think>` blocks inline in a model's text stream as reasoning, however the text is cut into pieces:
the splitter on its own (every cut, then random ones), before the local provider's markup filter, and end
to end through an OpenAI-compatible upstream that writes the tags into its content."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from parlor.llm.local.markup import MarkupFilter
from parlor.llm.local.provider import _filtered
from parlor.llm.think import ThinkSplitter
from parlor.llm.types import ReasoningDelta, TextDelta
from tests.client import auth, chat
from tests.conftest import upstream_provider
from tests.server import ParlorServer
from tests.upstream import Script, Upstream

CASES = [  # (what the model wrote, its reasoning, its answer)
    ("<think>\nTwo and two.\n</think>\n\nIt is 4.", "Two and two.\n", "It is 4."),
    ("  <think>a</think>b", "a", "b"),
    ("<think></think>Just text.", "", "Just text."),  # Qwen3 with thinking off: an empty block
    ("The tag <think> is HTML-ish.", "", "The tag <think> is HTML-ish."),  # not leading: text
    ("<thin>no tag</thin>", "", "<thin>no tag</thin>"),
    ("<think>a < b and </thinking> is no tag</think>ok", "a < b and </thinking> is no tag", "ok"),
    ("<think>cut off at the limit", "cut off at the limit", ""),
    ("<think>one</think>two <think>three</think>", "one", "two <think>three</think>"),  # only the leading one
    ("", "", ""),
]


def split(pieces: list[str]) -> tuple[str, str]:
    splitter = ThinkSplitter()
    deltas = [d for piece in pieces for d in splitter.feed(piece)] + splitter.end()
    assert all(d.text for d in deltas)  # nothing empty goes out
    reasoning = "".join(d.text for d in deltas if isinstance(d, ReasoningDelta))
    return reasoning, "".join(d.text for d in deltas if not isinstance(d, ReasoningDelta))


@pytest.mark.parametrize(("written", "reasoning", "answer"), CASES)
def test_every_cut_into_two_and_into_single_characters_splits_alike(written: str, reasoning: str,
                                                                    answer: str) -> None:
    assert split([written]) == (reasoning, answer)
    assert split(list(written)) == (reasoning, answer)
    for cut in range(len(written) + 1):
        assert split([written[:cut], written[cut:]]) == (reasoning, answer), cut


@given(st.sampled_from(CASES), st.lists(st.integers(min_value=0, max_value=60), max_size=12))
def test_random_cuts_split_alike(case: tuple[str, str, str], cuts: list[int]) -> None:
    written, reasoning, answer = case
    bounds = sorted({min(c, len(written)) for c in cuts} | {0, len(written)})
    assert split([written[a:b] for a, b in itertools.pairwise(bounds)]) == (reasoning, answer)


def test_text_flows_on_at_once_once_the_answer_began() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("<thi") == []  # may still be the tag
    assert [d.text for d in splitter.feed("nk>x</th")] == ["x"]  # the closing tag's start is held
    assert [type(d).__name__ for d in splitter.feed("ink>Hi")] == ["TextDelta"]
    assert [d.text for d in splitter.feed(" there")] == [" there"]
    plain = ThinkSplitter()
    assert [d.text for d in plain.feed("Hello")] == ["Hello"]  # no tag: nothing held


@pytest.fixture(scope="module")
def server(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParlorServer]:
    process = ParlorServer(tmp_path_factory.mktemp("think-tags"), [upstream_provider(upstream)]).start()
    try:
        yield process
    finally:
        process.stop()


def test_an_upstream_writing_think_tags_in_its_content_streams_reasoning(server: ParlorServer, upstream: Upstream,
                                                                        marker: str) -> None:
    key, thread_id = server.create_user(f"think-{marker}"), uuid.uuid4().hex
    tokens = ["<", "think", ">\n", "Two and", " two.", "</", "thi", "nk>", "\n\n", "It is", " 4."]
    upstream.push(Script(tokens=tokens), match=f"sum {marker}")
    result = chat(server.url, key, thread_id, f"sum {marker}")
    assert result.status == 200 and result.text == "It is 4."
    reasoning = "".join(c["delta"] for c in result.chunks if c["type"] == "reasoning-delta")
    assert reasoning == "Two and two."
    assert result.types.index("reasoning-end") < result.types.index("text-start")
    stored = httpx.get(f"{server.url}/api/threads/{thread_id}", headers=auth(key)).json()["messages"][-1]
    assert [p["type"] for p in stored["parts"]] == ["step-start", "reasoning", "text"]
    assert stored["parts"][2]["text"] == "It is 4." and "think" not in stored["parts"][2]["text"]


def test_the_local_provider_filters_the_answers_markup_but_not_the_thoughts() -> None:
    think, markup = ThinkSplitter(), MarkupFilter()
    written = '<think>Maybe <tool_call>{"name": "x"}</tool_call>?</think>Hi<tool_call>{"name": "x"}</tool_call>!'
    pieces = [written[i:i + 3] for i in range(0, len(written), 3)]
    out = [d for piece in pieces for d in _filtered(think.feed(piece), markup)] + list(_filtered(think.end(), markup))
    thought = "".join(d.text for d in out if isinstance(d, ReasoningDelta))
    text = "".join(d.text for d in out if isinstance(d, TextDelta)) + markup.end()
    assert thought == 'Maybe <tool_call>{"name": "x"}</tool_call>?'  # shown folded, as the model thought it
    assert text == "Hi!" and markup.stripped == 1
