"""Each provider sends a message's images and PDFs in its own API's format (asserted on what its scripted
upstream received), and the prompt's token count holds them by the provider's rule."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from google.genai import types

from parlor.agent.transcript import render_stored
from parlor.llm import AnthropicProvider, CompletionRequest, GeminiProvider, LLMMessage, OpenAIProvider
from parlor.llm.types import MessageFile
from parlor.memory.context import Budget, ThreadWindow, build_context
from parlor.memory.tokens import EstimateCounter, count_messages
from parlor.messages import FilePart, MessageStatus, StoredMessage, TextPart
from tests.anthropic_upstream import AnthropicUpstream
from tests.gemini_upstream import GeminiUpstream
from tests.helpers.images import image_bytes, pdf_bytes
from tests.upstream import Script, Upstream

PNG = image_bytes("PNG", 16, 16)
PDF = pdf_bytes(1)
B64_PNG, B64_PDF = base64.b64encode(PNG).decode(), base64.b64encode(PDF).decode()


def question(marker: str) -> CompletionRequest:
    files = (MessageFile("image/png", "dot.png", PNG, 16, 16), MessageFile("application/pdf", "a.pdf", PDF, pages=1))
    return CompletionRequest([LLMMessage("system", "Be brief."), LLMMessage("user", f"read these {marker}",
                                                                            files=files)])


def sent(requests: list[dict[str, object]], marker: str) -> dict[str, object]:
    return next(r for r in reversed(requests) if marker in json.dumps(r))


@pytest.fixture(scope="module")
def claude() -> Iterator[AnthropicUpstream]:
    with AnthropicUpstream(api_key="k") as server:
        yield server


@pytest.fixture(scope="module")
def gemini() -> Iterator[GeminiUpstream]:
    with GeminiUpstream(api_key="k") as server:
        yield server


@pytest.fixture
async def openai_provider(upstream: Upstream) -> AsyncIterator[OpenAIProvider]:
    provider = OpenAIProvider("gpt", "gpt-test", upstream.url, read_timeout=10)
    yield provider
    await provider.aclose()


async def test_openai_gets_image_url_and_file_parts(openai_provider: OpenAIProvider, upstream: Upstream,
                                                    marker: str) -> None:
    upstream.push(Script(text="ok"), match=marker)
    [_ async for _ in openai_provider.stream(question(marker))]
    user = sent(upstream.requests, marker)["messages"][-1]  # type: ignore[index]
    assert user["content"] == [
        {"type": "text", "text": f"read these {marker}"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{B64_PNG}"}},
        {"type": "file", "file": {"filename": "a.pdf", "file_data": f"data:application/pdf;base64,{B64_PDF}"}},
    ]


async def test_anthropic_gets_image_and_document_blocks(claude: AnthropicUpstream, marker: str) -> None:
    claude.push(Script(text="ok"), match=marker)
    provider = AnthropicProvider("claude", "claude-test", claude.url, api_key="k", read_timeout=10)
    try:
        [_ async for _ in provider.stream(question(marker))]
    finally:
        await provider.aclose()
    (user,) = sent(claude.requests, marker)["messages"]  # type: ignore[misc]
    assert user["content"] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": B64_PNG}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": B64_PDF}},
        {"type": "text", "text": f"read these {marker}"},
    ]


async def test_gemini_gets_inline_data(gemini: GeminiUpstream, marker: str) -> None:
    gemini.push(Script(text="ok"), match=marker)
    provider = GeminiProvider("gemini", "gemini-test", gemini.url, api_key="k", read_timeout=10)
    try:
        [_ async for _ in provider.stream(question(marker))]
    finally:
        await provider.aclose()
    (user,) = sent(gemini.requests, marker)["contents"]  # type: ignore[misc]
    assert user["parts"] == [{"text": f"read these {marker}"},
                             {"inlineData": {"mimeType": "image/png", "data": B64_PNG}},
                             {"inlineData": {"mimeType": "application/pdf", "data": B64_PDF}}]
    parsed = types.Content.model_validate(user)  # the official SDK reads it as inline data, bytes intact
    assert parsed.parts is not None and parsed.parts[1].inline_data is not None
    assert parsed.parts[1].inline_data.data == PNG and parsed.parts[2].inline_data.mime_type == "application/pdf"


def stored(text: str, *files: FilePart, tokens: int | None = None) -> StoredMessage:
    return StoredMessage(text, None, "user", text, (TextPart(text), *files), MessageStatus.COMPLETE,
                         datetime.now(UTC), tokens=tokens)


PHOTO = FilePart("image/jpeg", "/api/files/t1/0123456789abcdef.jpg", "p.jpg", 4032, 3024)


@pytest.mark.parametrize(("rule", "image"), [("openai", 765), ("anthropic", 2459), ("gemini", 258)])
def test_a_stored_image_counts_by_the_providers_rule(rule: str, image: int) -> None:
    counter = EstimateCounter()
    plain = count_messages(counter, render_stored(stored("look at this")))
    (rendered,) = render_stored(stored("look at this", PHOTO), rule)
    assert rendered.files[0].key == "t1/0123456789abcdef.jpg" and rendered.files[0].data is None
    assert count_messages(counter, [rendered]) == plain + image


def test_history_with_images_stays_within_the_budget() -> None:
    counter = EstimateCounter()
    old = [stored(f"photo {n}", PHOTO) for n in range(4)]  # 765 tokens of image each (OpenAI's rule)
    newest = stored("and this one?", PHOTO)
    window = ThreadWindow(True, [], None, [], False)
    budget = Budget(context_tokens=3000, reply_reserve=500, window_messages=50, memory_tokens=0)
    context = build_context("", 0, window, [*old, newest], render_stored, counter, budget)
    assert context.tokens <= 3000 - 500
    assert context.window == 3  # the newest and the two before it: a fourth image would not fit
    assert [m.content for m in context.messages][-1] == "and this one?" and context.messages[-1].files
