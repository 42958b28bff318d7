"""The distributed vector store: pgvector in PostgreSQL (HNSW index, cosine) plus full-text search
(a generated tsvector with a GIN index). The store creates its own table (its width is the embedding
model's, a runtime setting), under an advisory lock so a server and its workers may start together.

Filtering is inside the query. A caller with up to EXACT_UP_TO chunks gets an exact search (their rows by
the (user_id, thread_id) btree, top-k by sort: a few ms): an HNSW walk over the whole table that keeps
1 row in 100 returns k rows but not all the nearest (measured: recall@10 0.71 for 1 user in 100 over
100,000 chunks, exact: 1.0). Larger callers get the HNSW walk; with pgvector 0.8's iterative scans it
goes on until k rows of theirs pass the filter, so they still get k results."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import numpy as np
from sqlalchemy.engine import make_url

from parlor.db import urls
from parlor.rag.store import ChunkRecord, Hit, Scope, StoredChunk, VectorStoreUnavailable, keywords

log = logging.getLogger(__name__)
LIBRARY = ""
TABLE = "rag_chunks"


def _schema(dimensions: int) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {TABLE} (
              id bigserial PRIMARY KEY, document_id text NOT NULL, user_id text NOT NULL,
              thread_id text NOT NULL DEFAULT '', ordinal integer NOT NULL, page integer, text text NOT NULL,
              filename text NOT NULL, embedding vector({dimensions}) NOT NULL,
              tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
              UNIQUE (document_id, ordinal))""",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_embedding ON {TABLE} USING hnsw (embedding vector_cosine_ops)",
        # fastupdate off: new rows go straight into the index instead of a pending list that every
        # keyword search must scan linearly (up to 4 MB of it: that was most of a search's time)
        f"CREATE INDEX IF NOT EXISTS {TABLE}_tsv ON {TABLE} USING gin (tsv) WITH (fastupdate = off)",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_owner ON {TABLE} (user_id, thread_id)",
    ]


# Vector search, one statement: counts the caller's rows (by the btree, stopping at EXACT_UP_TO), then
# runs one of two branches, the other gated off by a one-time filter (never executed). The exact branch
# orders by score, which the HNSW index cannot serve, so it sorts the caller's rows.
EXACT_UP_TO = 10_000
_OWNED = f"FROM {TABLE} WHERE user_id = $2 AND thread_id IN ('', $3)"
_HIT = "SELECT document_id, ordinal, page, text, filename, 1 - (embedding <=> $1::vector) AS score"
_VECTOR_SEARCH = f"""
WITH owned AS (SELECT count(*) AS n FROM (SELECT {_OWNED} LIMIT $5) AS o)
({_HIT} {_OWNED} AND (SELECT n FROM owned) < $5 ORDER BY score DESC, id LIMIT $4)
UNION ALL
({_HIT} {_OWNED} AND (SELECT n FROM owned) >= $5 ORDER BY embedding <=> $1::vector LIMIT $4)"""

# Keyword search in two steps, as one statement. Candidates: the caller's chunks holding one of the query's
# uncommon words (a word in over COMMON of all chunks picks a large share of the table and says little about
# any of it), or all of its words if every one is common, at most CANDIDATES of them, so that a search
# never reads and ranks a large share of the table; topped up to k, if that found fewer, with chunks
# holding any of its words (a small library whose matches are all common words still gets them).
# Ranking: ts_rank by every word of the query, common ones included.
COMMON = 0.02
CANDIDATES = 2000
STATISTICS_TTL = 300.0  # seconds; autovacuum's ANALYZE refreshes them as the table grows
_RANKED = (f"SELECT id, document_id, ordinal, page, text, filename, ts_rank(tsv, terms.every) AS score"
           f" FROM terms, {TABLE} WHERE user_id = $2 AND thread_id IN ('', $3)")
_TEXT_SEARCH = f"""
WITH terms AS (
  SELECT to_tsquery('simple', string_agg(quote_literal(lexeme), ' | ')) AS every,
         to_tsquery('simple', coalesce(string_agg(quote_literal(lexeme), ' | ') FILTER (WHERE lexeme <> ALL($5)),
                                       string_agg(quote_literal(lexeme), ' & '))) AS pick
  FROM unnest(to_tsvector('english', $1))),
picked AS ({_RANKED} AND tsv @@ terms.pick LIMIT $6),
topped AS ({_RANKED} AND tsv @@ terms.every AND (SELECT count(*) FROM picked) < $4
           AND id NOT IN (SELECT id FROM picked) LIMIT greatest($4 - (SELECT count(*) FROM picked), 0))
SELECT document_id, ordinal, page, text, filename, score FROM (TABLE picked UNION ALL TABLE topped) AS c
ORDER BY score DESC, id LIMIT $4"""

# An index made before that setting is switched over and flushed; only its owner may: best effort.
TUNING = [f"ALTER INDEX {TABLE}_tsv SET (fastupdate = off)", f"SELECT gin_clean_pending_list('{TABLE}_tsv'::regclass)"]


def _vector(values: np.ndarray) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in np.asarray(values, np.float32)) + "]"


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0]


def asyncpg_dsn(url: str) -> str:
    """The URL as asyncpg spells it, without Parlor's parameters (TLS, pooler: parlor.db.urls)."""
    return urls.parse(url).asyncpg_dsn()


class PgVectorStore:
    def __init__(self, url: str, dimensions: int, pool_size: int = 5, ef_search: int = 100,  # ef >= the k asked
                 candidates: int = CANDIDATES, exact_up_to: int = EXACT_UP_TO):
        self._connection = urls.parse(url)
        parts = make_url(url)
        self._where = f"{parts.host}:{parts.port or 5432}/{parts.database}"  # for messages: no user, no password
        self.dimensions = dimensions
        self._pool_size = pool_size
        self._ef_search = ef_search
        self.candidates = candidates
        self.exact_up_to = exact_up_to
        self._pool: Any = None
        self._common: tuple[float, list[str]] | None = None  # (when fetched, lexemes): see _common_lexemes

    async def setup(self) -> None:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(self._connection.asyncpg_dsn(), min_size=1,
                                                   max_size=self._pool_size, **self._connection.asyncpg_args())
        async with self._transaction() as connection:
            await connection.execute("SELECT pg_advisory_xact_lock(hashtext('parlor.rag_chunks'))")
            await self._create_extension(connection)
            for statement in _schema(self.dimensions):
                await connection.execute(statement)
            for statement in TUNING:
                try:
                    async with connection.transaction():  # a savepoint: a refusal leaves the rest done
                        await connection.execute(statement)
                except asyncpg.InsufficientPrivilegeError as exc:
                    log.warning("%s: %s (keyword searches may be slower)", statement, exc)

    async def _create_extension(self, connection: Any) -> None:
        """pgvector, or VectorStoreUnavailable saying how to get it (stock PostgreSQL packages lack it)."""
        try:
            await connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except (asyncpg.FeatureNotSupportedError, asyncpg.UndefinedFileError) as exc:  # not installed
            major = connection.get_server_version().major
            raise VectorStoreUnavailable(
                f"PostgreSQL at {self._where} has no pgvector ({_first_line(exc)}): install the package "
                f"postgresql-{major}-pgvector where PostgreSQL runs (README: PostgreSQL needs pgvector) or point "
                "PARLOR_VECTOR_URL at a PostgreSQL that has it") from None
        except asyncpg.InsufficientPrivilegeError as exc:  # installed, but not created and not ours to create
            raise VectorStoreUnavailable(
                f"PostgreSQL at {self._where}: {_first_line(exc)}: a superuser must run CREATE EXTENSION vector "
                "in that database once") from None

    def _settings(self) -> dict[str, str]:
        """Iterative HNSW scans (filters inside the walk), the search width, no parallel workers (a gated-off
        branch of _VECTOR_SEARCH would still start them: +15 ms a search). Without them a small user got a
        few or none of their nearest rows (a 40-wide walk, no iteration)."""
        return {"hnsw.iterative_scan": "strict_order", "hnsw.ef_search": str(self._ef_search),
                "plan_cache_mode": "force_custom_plan", "max_parallel_workers_per_gather": "0"}

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Any]:
        """A pooled connection in a transaction with _settings applied (SET LOCAL). Per transaction, not
        at connection start: PgBouncer refuses startup parameters it does not know (or, told to ignore
        them, drops them), and in transaction mode each transaction may get another server connection;
        a session SET would also leak to the next client there. Every statement runs in one, so behind
        such a pooler a statement's parse and execution reach the same server connection."""
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("; ".join(f"SET LOCAL {name} = '{value}'"
                                               for name, value in self._settings().items()))
            yield connection

    async def replace(self, document_id: str, chunks: Sequence[ChunkRecord], vectors: np.ndarray) -> None:
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        rows = [(r.document_id, r.user_id, r.thread_id or LIBRARY, r.ordinal, r.page, r.text, r.filename, _vector(v))
                for r, v in zip(chunks, vectors, strict=True)]
        async with self._transaction() as connection:
            await connection.execute(f"DELETE FROM {TABLE} WHERE document_id = $1", document_id)
            await connection.executemany(
                f"INSERT INTO {TABLE} (document_id, user_id, thread_id, ordinal, page, text, filename, embedding)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::vector)", rows)

    async def delete(self, document_id: str) -> None:
        async with self._transaction() as connection:
            await connection.execute(f"DELETE FROM {TABLE} WHERE document_id = $1", document_id)

    async def count(self, document_id: str) -> int:
        async with self._transaction() as connection:
            return int(await connection.fetchval(f"SELECT count(*) FROM {TABLE} WHERE document_id = $1",
                                                 document_id))

    async def chunks(self, document_id: str) -> list[StoredChunk]:
        async with self._transaction() as connection:
            rows = await connection.fetch(f"SELECT ordinal, page, text FROM {TABLE} WHERE document_id = $1"
                                          " ORDER BY ordinal", document_id)
        return [StoredChunk(r[0], r[1], r[2]) for r in rows]

    async def vector_search(self, scope: Scope, vector: np.ndarray, k: int) -> list[Hit]:
        async with self._transaction() as connection:
            rows = await connection.fetch(_VECTOR_SEARCH, _vector(vector), scope.user_id,
                                          scope.thread_id or LIBRARY, k, self.exact_up_to)
        return [Hit(r[0], r[1], r[2], r[3], r[4], float(r[5])) for r in rows]

    async def text_search(self, scope: Scope, query: str, k: int) -> list[Hit]:
        words = keywords(query)
        if not words:
            return []
        common = await self._common_lexemes()
        async with self._transaction() as connection:
            rows = await connection.fetch(_TEXT_SEARCH, " ".join(words), scope.user_id, scope.thread_id or LIBRARY,
                                          k, common, self.candidates)
        return [Hit(r[0], r[1], r[2], r[3], r[4], float(r[5])) for r in rows]

    async def _common_lexemes(self) -> list[str]:
        """The words in more than COMMON of all chunks and more than `candidates` chunks (a small table has
        none), by the planner's own statistics (ANALYZE samples the tsvector column's most common lexemes
        with their frequencies), fetched every few minutes."""
        now = time.monotonic()
        if self._common is None or now - self._common[0] > STATISTICS_TTL:
            async with self._transaction() as connection:
                lexemes = await connection.fetchval(
                    "SELECT coalesce(array_agg(lexeme), '{}') FROM pg_stats s,"
                    " unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) AS u(lexeme, share)"
                    " WHERE s.schemaname = current_schema() AND s.tablename = $1 AND s.attname = 'tsv'"
                    " AND u.lexeme IS NOT NULL AND u.share > $2"
                    " AND u.share * (SELECT reltuples FROM pg_class WHERE oid = $1::regclass) > $3",
                    TABLE, COMMON, self.candidates)
            self._common = now, list(lexemes)
        return self._common[1]

    async def analyze(self) -> None:
        """Refreshes the planner's statistics (after a bulk load; autovacuum does it in time anyway)."""
        async with self._transaction() as connection:
            await connection.execute(f"ANALYZE {TABLE}")
        self._common = None

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
