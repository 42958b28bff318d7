"""A fallback chain across every provider kind, through a real server: OpenAI down, Anthropic overloaded,
Gemini unavailable, and the bundled local model answers. Each remote was asked once (no retries), the
answer says who gave it, and its usage row names the local model."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.anthropic_upstream import AnthropicUpstream
from tests.client import chat
from tests.gemini_upstream import GeminiUpstream
from tests.server import ParlorServer
from tests.test_local_model import MODELS_DIR, SMALL
from tests.upstream import Script, Upstream


@pytest.fixture(scope="module")
def remotes() -> Iterator[tuple[Upstream, AnthropicUpstream, GeminiUpstream]]:
    with Upstream() as openai, AnthropicUpstream(api_key="sk-ant-test") as claude, GeminiUpstream() as gemini:
        yield openai, claude, gemini


def test_openai_then_anthropic_then_gemini_then_the_local_model(
        remotes: tuple[Upstream, AnthropicUpstream, GeminiUpstream], tmp_path: Path) -> None:
    openai, claude, gemini = remotes
    marker = uuid.uuid4().hex[:8]
    openai.push(Script(status=503), match=marker)
    claude.push(Script(status=529), match=marker)
    gemini.push(Script(status=503), match=marker)
    once = {"retries": 0, "read_timeout": 10}
    providers = [
        {"name": "gpt", "kind": "openai", "base_url": openai.url, "model": "gpt-test", **once},
        {"name": "claude", "kind": "anthropic", "base_url": claude.url, "api_key": "sk-ant-test",
         "model": "claude-test", **once},
        {"name": "gemini", "kind": "gemini", "base_url": gemini.url, "api_key": "g-test", "model": "gemini-test",
         **once},
        {"name": "local", "kind": "local", "model": SMALL, "models_dir": str(MODELS_DIR)},
    ]
    server = ParlorServer(tmp_path, providers, PARLOR_TOOLS="[]").start(timeout=120)
    try:
        result = chat(server.url, server.create_user("chain"), uuid.uuid4().hex,
                      f"Say hello in one short sentence. ({marker})", timeout=120)
    finally:
        server.stop()
    assert result.status == 200 and result.types[-1] == "finish" and result.text.strip()
    assert result.chunks[-1]["messageMetadata"]["provider"] == "local"
    for remote in remotes:  # each was asked exactly once, and failed
        assert sum(marker in str(body) for body in remote.requests) == 1
    with sqlite3.connect(tmp_path / "parlor.db") as db:
        providers_used = [row[0] for row in db.execute("SELECT provider FROM usage")]
    assert providers_used == ["local"]
