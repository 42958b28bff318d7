"""The vector store seam: chunks with their vectors, searched by meaning and by keywords, always
within one caller's scope (inside the query). Two implementations: sqlite-vec (embedded) and pgvector."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class VectorStoreUnavailable(Exception):
    """The store cannot start (e.g. a PostgreSQL without pgvector): one line saying why and what to do."""


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose chunks a search may see: the user's library, plus one thread's own documents if set."""

    user_id: str
    thread_id: str | None = None


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    document_id: str
    user_id: str
    thread_id: str | None  # None: the user's library (visible in every thread of theirs)
    ordinal: int
    page: int | None
    text: str
    filename: str


@dataclass(frozen=True, slots=True)
class StoredChunk:
    ordinal: int
    page: int | None
    text: str


@dataclass(frozen=True, slots=True)
class Hit:
    document_id: str
    ordinal: int
    page: int | None
    text: str
    filename: str
    score: float  # higher is better (cosine similarity, bm25, or a fused rank score)

    @property
    def key(self) -> tuple[str, int]:
        return self.document_id, self.ordinal


class VectorStore(Protocol):
    dimensions: int

    async def setup(self) -> None: ...

    async def replace(self, document_id: str, chunks: Sequence[ChunkRecord], vectors: np.ndarray) -> None:
        """The document's chunks become exactly these, atomically (re-running a job never duplicates)."""

    async def delete(self, document_id: str) -> None: ...

    async def count(self, document_id: str) -> int: ...

    async def chunks(self, document_id: str) -> list[StoredChunk]:
        """The document's chunks, in order."""

    async def vector_search(self, scope: Scope, vector: np.ndarray, k: int) -> list[Hit]: ...

    async def text_search(self, scope: Scope, query: str, k: int) -> list[Hit]: ...

    async def aclose(self) -> None: ...


_WORD = re.compile(r"\w+", re.UNICODE)
# Question words and glue that every chunk has: matching on them only adds noise to keyword ranking.
_STOP = """a an and are as at be been but by can could did do does doing for from get gets had has have how i if
in into is it its may me might must my no not of on or our should so than that the their them then there these they
this those to too under up us was we were what when where which while who whom why will with would you your yours
about after before per any all each"""
STOPWORDS = frozenset(_STOP.split())


def keywords(query: str, limit: int = 32) -> list[str]:
    """The query's words without stopwords (no operators: a user's text is never a query language)."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query.lower()):
        if (len(word) > 1 or word.isdigit()) and word not in STOPWORDS:
            seen.setdefault(word, None)
    return list(seen)[:limit]


def fuse(rankings: Sequence[Sequence[Hit]], k: int, constant: int = 60) -> list[Hit]:
    """Reciprocal rank fusion: each list adds 1 / (constant + rank) to a chunk's score."""
    scores: dict[tuple[str, int], float] = {}
    hits: dict[tuple[str, int], Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.key] = scores.get(hit.key, 0.0) + 1.0 / (constant + rank)
            hits.setdefault(hit.key, hit)
    best = sorted(scores, key=lambda key: (-scores[key], key))[:k]
    return [Hit(hits[key].document_id, hits[key].ordinal, hits[key].page, hits[key].text, hits[key].filename,
                round(scores[key], 6)) for key in best]
