"""Blocks to chunks: token-aware, on headings and paragraphs first, with overlap inside a section.

A chunk never crosses a heading; the section's heading is repeated at the top of each of its chunks,
so a chunk read alone (by the model, or by the embedding model) says what it is about."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from parlor.rag.parse import Block

Counter = Callable[[str], int]
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+(?=[A-Z0-9\"'(\[])")


@dataclass(frozen=True, slots=True)
class Chunk:
    ordinal: int
    text: str
    page: int | None


@dataclass(slots=True)
class _Piece:
    text: str
    page: int | None
    tokens: int


def chunk(blocks: list[Block], count: Counter, max_tokens: int, overlap: int) -> list[Chunk]:
    chunks: list[Chunk] = []
    heading = ""
    section: list[_Piece] = []

    def close_section() -> None:
        for text, page in _pack(section, count(heading) if heading else 0, max_tokens, overlap):
            chunks.append(Chunk(len(chunks), f"{heading}\n{text}" if heading else text, page))
        section.clear()

    for block in blocks:
        if block.heading:
            close_section()
            heading = block.text[:300]
            continue
        section.extend(_split(block, count, max_tokens))
    close_section()
    return chunks


def _split(block: Block, count: Counter, max_tokens: int) -> list[_Piece]:
    """A block as pieces of at most max_tokens: itself, else its sentences, else runs of words."""
    tokens = count(block.text)
    if tokens <= max_tokens:
        return [_Piece(block.text, block.page, tokens)]
    pieces: list[_Piece] = []
    for sentence in _SENTENCE.split(block.text):
        size = count(sentence)
        if size <= max_tokens:
            pieces.append(_Piece(sentence, block.page, size))
            continue
        words = sentence.split()
        step = max(1, len(words) * max_tokens // (size + 1))
        for start in range(0, len(words), step):
            text = " ".join(words[start:start + step])
            pieces.append(_Piece(text, block.page, count(text)))
    return pieces


def _pack(pieces: list[_Piece], reserved: int, max_tokens: int, overlap: int) -> list[tuple[str, int | None]]:
    """Greedy packing of a section's pieces; each new chunk starts with the previous one's tail
    (whole pieces, up to `overlap` tokens)."""
    room = max(16, max_tokens - reserved)
    out: list[tuple[str, int | None]] = []
    current: list[_Piece] = []
    size = 0
    fresh = 0  # pieces in `current` not carried over from the previous chunk
    for piece in pieces:
        if current and size + piece.tokens > room and fresh:
            out.append((" ".join(p.text for p in current), _first_page(current)))
            tail: list[_Piece] = []
            kept = 0
            for previous in reversed(current):
                if kept + previous.tokens > overlap or kept + previous.tokens + piece.tokens > room:
                    break
                tail.insert(0, previous)
                kept += previous.tokens
            current, size, fresh = tail, kept, 0
        current.append(piece)
        size += piece.tokens
        fresh += 1
    if current and fresh:
        out.append((" ".join(p.text for p in current), _first_page(current)))
    return out


def _first_page(pieces: list[_Piece]) -> int | None:
    return next((p.page for p in pieces if p.page is not None), None)
