"""A provider that streams a fixed reply: for demos and for running with no LLM at all."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator

from parlor.llm.types import CompletionRequest, Delta, FinishDelta, TextDelta, Usage, UsageDelta

DEMO_REPLY = (
    "Hello! I am Parlor's scripted demo provider, so I can only echo you: "
    "“{last}”. Point PARLOR_PROVIDERS at an OpenAI-compatible endpoint for real answers."
)


class ScriptedProvider:
    def __init__(self, name: str, model: str, reply: str | None = None, token_delay: float = 0.02):
        self.name = name
        self.model = model
        self._reply = reply or DEMO_REPLY
        self._token_delay = token_delay

    async def stream(self, request: CompletionRequest) -> AsyncGenerator[Delta, None]:
        last = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        tokens = re.findall(r"\s*\S+", self._reply.replace("{last}", last))
        if request.max_tokens is not None:
            tokens = tokens[: request.max_tokens]
        for token in tokens:
            await asyncio.sleep(self._token_delay)
            yield TextDelta(token)
        prompt_words = sum(len(m.content.split()) for m in request.messages)
        yield UsageDelta(Usage(tokens_in=prompt_words, tokens_out=len(tokens)))
        yield FinishDelta("stop")

    async def aclose(self) -> None:
        return None
