"""The embedded vector store: one SQLite file with sqlite-vec and FTS5 (bm25) for keywords.

Vector search is two steps: a coarse scan of the caller's binary-quantised vectors (stored by sqlite-vec
in a `vec0` table of bits partitioned by user; scanned in memory by parlor/rag/bit_index.py, among the
caller's threads only), then the best CANDIDATES re-ranked by exact cosine on the float vectors, in SQL.
Measured on 100,000 chunks of one user: the float scan alone takes ~40-80 ms on 2 cores, sqlite-vec's
binary KNN ~14 ms, this a few ms, with recall@10 ≥ 0.99 (bench/retrieval.py).

Python's own sqlite3 may be built without extension loading, so this uses apsw (bundles SQLite, loads
extensions). apsw is synchronous: every call runs in a worker thread. Writes go through one connection;
searches through a small pool of read-only ones (WAL: readers never wait for the writer), so the
vector and keyword halves of a hybrid search run at the same time."""

from __future__ import annotations

import asyncio
import queue
import secrets
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import orjson

from parlor.rag.bit_index import BitCache, UserBits
from parlor.rag.store import ChunkRecord, Hit, Scope, StoredChunk, keywords

T = TypeVar("T")
LIBRARY = ""  # thread_id of a document in the user's library (vec0 metadata columns are never NULL)
CANDIDATES = 100  # from the coarse binary scan, re-ranked exactly
READERS = 2  # read-only connections: the two legs of one hybrid search at once

SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
  id INTEGER PRIMARY KEY, document_id TEXT NOT NULL, user_id TEXT NOT NULL, thread_id TEXT NOT NULL,
  ordinal INTEGER NOT NULL, page INTEGER, text TEXT NOT NULL, filename TEXT NOT NULL, embedding BLOB NOT NULL,
  UNIQUE (document_id, ordinal));
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_bits USING vec0(
  chunk_id INTEGER PRIMARY KEY, user_id TEXT PARTITION KEY, thread_id TEXT, embedding BIT[{dimensions}]);
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_text USING fts5(
  text, user_id UNINDEXED, thread_id UNINDEXED, tokenize='porter unicode61');
CREATE TABLE IF NOT EXISTS user_versions (user_id TEXT PRIMARY KEY, version INTEGER NOT NULL);
"""


class SqliteVecStore:
    def __init__(self, path: Path, dimensions: int):
        self.path = path
        self.dimensions = dimensions
        self._db: Any = None
        self._lock = threading.Lock()
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()  # read-only connections not in use
        self._readers = 0
        self._bits = BitCache()

    def _connect(self) -> Any:
        import apsw
        import sqlite_vec  # type: ignore[import-untyped]

        db = apsw.Connection(str(self.path))
        db.enable_load_extension(True)
        db.load_extension(sqlite_vec.loadable_path())
        db.enable_load_extension(False)
        db.set_busy_timeout(30_000)
        return db

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = self._connect()
        db.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL")
        db.execute(SCHEMA.format(dimensions=self.dimensions))
        self._db = db

    async def _run(self, work: Callable[[Any], T]) -> T:
        def locked() -> T:
            with self._lock:
                if self._db is None:
                    self._open()
                return work(self._db)

        return await asyncio.to_thread(locked)

    async def _read(self, work: Callable[[Any], T]) -> T:
        """`work` on a read-only connection of the pool (opened when first needed, at most READERS)."""
        if self._db is None:
            await self.setup()  # the writer creates the schema first

        def pooled() -> T:
            try:
                db = self._idle.get_nowait()
            except queue.Empty:
                with self._lock:
                    fresh = self._readers < READERS
                    self._readers += fresh
                db = self._connect() if fresh else self._idle.get()
                if fresh:
                    db.execute("PRAGMA query_only=1")
            try:
                return work(db)
            finally:
                self._idle.put(db)

        return await asyncio.to_thread(pooled)

    async def setup(self) -> None:
        await self._run(lambda db: None)

    async def replace(self, document_id: str, chunks: Sequence[ChunkRecord], vectors: np.ndarray) -> None:
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")

        def write(db: Any) -> None:
            with db:  # one transaction: a crash leaves the old chunks or the new ones, never both
                _delete(db, document_id)
                for record, vector in zip(chunks, vectors, strict=True):
                    thread = record.thread_id or LIBRARY
                    blob = np.asarray(vector, np.float32).tobytes()
                    db.execute("INSERT INTO chunks (document_id, user_id, thread_id, ordinal, page, text, filename,"
                               " embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                               (record.document_id, record.user_id, thread, record.ordinal, record.page,
                                record.text, record.filename, blob))
                    rowid = db.last_insert_rowid()
                    db.execute("INSERT INTO chunk_bits (chunk_id, user_id, thread_id, embedding)"
                               " VALUES (?, ?, ?, vec_quantize_binary(?))", (rowid, record.user_id, thread, blob))
                    db.execute("INSERT INTO chunk_text (rowid, text, user_id, thread_id) VALUES (?, ?, ?, ?)",
                               (rowid, record.text, record.user_id, thread))
                _bump(db, {record.user_id for record in chunks})

        await self._run(write)

    async def delete(self, document_id: str) -> None:
        def remove(db: Any) -> None:
            with db:
                _delete(db, document_id)

        await self._run(remove)

    async def count(self, document_id: str) -> int:
        return await self._run(lambda db: int(db.execute(
            "SELECT count(*) FROM chunks WHERE document_id = ?", (document_id,)).fetchone()[0]))

    async def chunks(self, document_id: str) -> list[StoredChunk]:
        rows = await self._read(lambda db: db.execute(
            "SELECT ordinal, page, text FROM chunks WHERE document_id = ? ORDER BY ordinal", (document_id,)).fetchall())
        return [StoredChunk(o, p, t) for o, p, t in rows]

    async def vector_search(self, scope: Scope, vector: np.ndarray, k: int) -> list[Hit]:
        # The coarse scan reads only the caller's vectors and keeps only their threads' before it picks
        # its best, so k hits come back even when other users own most of the vectors.
        blob = np.asarray(vector, np.float32).tobytes()

        def search(db: Any) -> list[Any]:
            found = db.execute("SELECT version FROM user_versions WHERE user_id = ?", (scope.user_id,)).fetchone()
            version = found[0] if found else 0
            bits = self._bits.get(scope.user_id, version, lambda: UserBits.build(version, db.execute(
                "SELECT chunk_id, thread_id, embedding FROM chunk_bits WHERE user_id = ?", (scope.user_id,))))
            query = db.execute("SELECT vec_quantize_binary(?)", (blob,)).fetchone()[0]
            ids = bits.nearest(query, (LIBRARY, scope.thread_id or LIBRARY), max(k, CANDIDATES))
            rows: list[Any] = db.execute(  # user and threads again: a stale id never widens the scope
                "SELECT document_id, ordinal, page, text, filename, vec_distance_cosine(embedding, ?1) AS distance"
                " FROM chunks WHERE id IN (SELECT value FROM json_each(?2)) AND user_id = ?3 AND thread_id IN (?4, ?5)"
                " ORDER BY distance LIMIT ?6",
                (blob, orjson.dumps(ids).decode(), scope.user_id, LIBRARY, scope.thread_id or LIBRARY, k)).fetchall()
            return rows

        rows = await self._read(search)
        return [Hit(d, o, p, t, f, 1.0 - float(dist)) for d, o, p, t, f, dist in rows]

    async def text_search(self, scope: Scope, query: str, k: int) -> list[Hit]:
        words = keywords(query)
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words)
        sql = ("SELECT c.document_id, c.ordinal, c.page, c.text, c.filename, -t.rank FROM chunk_text t"
               " JOIN chunks c ON c.id = t.rowid WHERE chunk_text MATCH ? AND t.user_id = ?"
               " AND t.thread_id IN (?, ?) ORDER BY t.rank LIMIT ?")
        args = (match, scope.user_id, LIBRARY, scope.thread_id or LIBRARY, k)
        rows = await self._read(lambda db: db.execute(sql, args).fetchall())
        return [Hit(d, o, p, t, f, float(score)) for d, o, p, t, f, score in rows]

    async def aclose(self) -> None:
        def close() -> None:
            with self._lock:
                if self._db is not None:
                    self._db.close()
                    self._db = None
                while self._readers:  # every reader is idle once no search runs
                    self._idle.get().close()
                    self._readers -= 1

        await asyncio.to_thread(close)


def _bump(db: Any, users: set[str]) -> None:
    """A new version of these users' vectors (in the writer's transaction): cached scans reload. Random,
    not a counter: a user's row goes with their last chunk, and a counter restarting at 1 could match
    a version some process still has cached."""
    for user_id in users:
        db.execute("INSERT INTO user_versions (user_id, version) VALUES (?, ?)"
                   " ON CONFLICT (user_id) DO UPDATE SET version = excluded.version", (user_id, secrets.randbits(62)))


def _delete(db: Any, document_id: str) -> None:
    owners = {row[0] for row in db.execute("SELECT DISTINCT user_id FROM chunks WHERE document_id = ?", (document_id,))}
    _bump(db, owners)
    ids = [row[0] for row in db.execute("SELECT id FROM chunks WHERE document_id = ?", (document_id,))]
    for chunk_id in ids:
        db.execute("DELETE FROM chunk_bits WHERE chunk_id = ?", (chunk_id,))
        db.execute("DELETE FROM chunk_text WHERE rowid = ?", (chunk_id,))
    db.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))
    for user_id in owners:  # nothing of a user whose last document went stays behind
        db.execute("DELETE FROM user_versions WHERE user_id = ? AND NOT EXISTS"
                   " (SELECT 1 FROM chunks WHERE user_id = ?)", (user_id, user_id))
