"""Retrieval latency over 100,000 chunks, on the embedded store (sqlite-vec) and on pgvector (HNSW):
p50/p95 of the vector search, the keyword search and the hybrid search the tool runs (both, fused).

    .venv/bin/python bench/retrieval.py [--chunks 100000] [--users 1] [--queries 200] [--store both]
                                        [--keep DIR]

`--keep DIR` keeps pgvector's cluster in DIR between runs and reuses its corpus when the corpus is the
same (a fingerprint of --chunks/--users is stored next to it): loading 100,000 chunks takes minutes.

`--users 1` puts every chunk in one user's library (the worst case: every search scans or walks all
100,000); `--users 100` spreads them. Vectors are synthetic unit vectors around topic centres (no model
run: 100,000 embeddings would take minutes), texts are random words, so the keyword index is realistic.
The query's embedding (a few ms on the bundled model) is not included: it is the same for both stores."""

from __future__ import annotations

import argparse
import asyncio
import io
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parlor.rag.store import ChunkRecord, Scope, VectorStore, fuse
from tests.pgvector_cluster import PgVectorCluster, bundled_bin

DIMS = 384
PER_DOCUMENT = 500


def corpus(chunks: int, seed: int = 1) -> tuple[np.ndarray, list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(10, chunks // 100), DIMS)).astype(np.float32)
    topic = rng.integers(0, len(centres), chunks)
    vectors = centres[topic] + rng.standard_normal((chunks, DIMS)).astype(np.float32) * 0.6
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vocabulary = np.array([f"w{i}" for i in range(20_000)])
    words = rng.zipf(1.3, (chunks, 60)) % len(vocabulary)
    texts = [" ".join(vocabulary[row]) for row in words]
    queries = vectors[rng.integers(0, chunks, 500)] + rng.standard_normal((500, DIMS)).astype(np.float32) * 0.02
    return vectors, texts, queries / np.linalg.norm(queries, axis=1, keepdims=True)


async def load(store: VectorStore, vectors: np.ndarray, texts: list[str], users: list[str]) -> float:
    started = time.perf_counter()
    for offset in range(0, len(texts), PER_DOCUMENT):
        document = uuid.uuid4().hex
        user = users[(offset // PER_DOCUMENT) % len(users)]
        records = [ChunkRecord(document, user, None, i, i // 5 + 1, texts[offset + i], "bench.pdf")
                   for i in range(min(PER_DOCUMENT, len(texts) - offset))]
        await store.replace(document, records, vectors[offset:offset + len(records)])
    return time.perf_counter() - started


async def bulk_load(url: str, vectors: np.ndarray, texts: list[str], users: list[str]) -> float:
    """pgvector, with --keep: the same rows COPYed in and the HNSW index built once after (as a restore
    would), minutes faster than inserting 100,000 rows into the index one by one."""
    import asyncpg  # type: ignore[import-untyped]

    from parlor.rag.pg_store import TABLE, asyncpg_dsn

    started = time.perf_counter()
    rows = []
    for i, (text, vector) in enumerate(zip(texts, vectors, strict=True)):
        document, user = f"bench-{i // PER_DOCUMENT}", users[(i // PER_DOCUMENT) % len(users)]
        embedding = "[" + ",".join(f"{x:.7g}" for x in vector.tolist()) + "]"
        rows.append(f"{document}\t{user}\t\t{i % PER_DOCUMENT}\t{i % PER_DOCUMENT // 5 + 1}\t{text}\tbench.pdf"
                    f"\t{embedding}\n")
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute(f"DROP INDEX {TABLE}_embedding")  # the store's setup() makes it again
        await connection.copy_to_table(TABLE, source=io.BytesIO("".join(rows).encode()), columns=[
            "document_id", "user_id", "thread_id", "ordinal", "page", "text", "filename", "embedding"])
    finally:
        await connection.close()
    return time.perf_counter() - started


async def timed(run: Callable[[int], Awaitable[object]], n: int) -> tuple[float, float]:
    for i in range(5):  # warm up
        await run(i)
    times = []
    for i in range(n):
        started = time.perf_counter()
        await run(i)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


async def measure(name: str, store: VectorStore, args: argparse.Namespace, kept: KeptCluster | None = None) -> None:
    vectors, texts, queries = corpus(args.chunks)
    users = [f"user-{i}" for i in range(args.users)]
    await store.setup()
    if kept is not None and kept.ready:
        print(f"{name}: reusing the kept corpus ({kept.fingerprint})", flush=True)
    else:
        if kept is not None:
            seconds = await bulk_load(kept.url, vectors, texts, users)
            await store.setup()  # builds the HNSW index
        else:
            seconds = await load(store, vectors, texts, users)
        analyze = getattr(store, "analyze", None)
        if analyze is not None:
            await analyze()
        if kept is not None:
            kept.mark()
        print(f"{name}: loaded {args.chunks} chunks for {args.users} user(s) in {seconds:.1f} s", flush=True)
    rng = np.random.default_rng(2)  # keyword queries: three words of middling frequency, as real ones are
    words = [" ".join(f"w{j}" for j in rng.integers(20, 2000, 3)) for _ in range(500)]
    scope = Scope(users[0])

    async def vector(i: int) -> object:
        return await store.vector_search(scope, queries[i % len(queries)], 25)

    async def keyword(i: int) -> object:
        return await store.text_search(scope, words[i % len(words)], 25)

    async def hybrid(i: int) -> object:
        ranked = await asyncio.gather(vector(i), keyword(i))
        return fuse(ranked, 5)  # type: ignore[arg-type]

    positions = np.flatnonzero([users[(i // PER_DOCUMENT) % len(users)] == users[0] for i in range(len(texts))])
    found = 0
    for i in range(50):  # recall@10 of the index against exact search over the same user's vectors
        exact = positions[np.argsort(-(vectors[positions] @ queries[i]))[:10]]
        hits = {h.text for h in await store.vector_search(scope, queries[i], 10)}
        found += sum(texts[j] in hits for j in exact)
    for label, run in (("vector k=25", vector), ("keyword k=25", keyword), ("hybrid top-5", hybrid)):
        p50, p95 = await timed(run, args.queries)
        print(f"{name}: {label:<13} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms", flush=True)
    print(f"{name}: vector recall@10 against exact search: {found / 500:.3f}", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--store", choices=["sqlite", "pgvector", "both"], default="both")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) pgvector's cluster in this directory")
    args = parser.parse_args()
    if args.store in ("sqlite", "both"):
        from parlor.rag.sqlite_store import SqliteVecStore

        with tempfile.TemporaryDirectory() as folder:
            store = SqliteVecStore(Path(folder) / "vectors.sqlite", DIMS)
            try:
                await measure("sqlite-vec", store, args)
            finally:
                await store.aclose()
    if args.store in ("pgvector", "both"):
        from parlor.rag.pg_store import PgVectorStore

        fingerprint = f"chunks={args.chunks} users={args.users} dims={DIMS} seed=1"
        with KeptCluster(args.keep, fingerprint) if args.keep else PgVectorCluster() as running:
            pg = PgVectorStore(running.url, DIMS)
            try:
                await measure("pgvector", pg, args, running if isinstance(running, KeptCluster) else None)
            finally:
                await pg.aclose()


class KeptCluster(PgVectorCluster):
    """A cluster kept in a folder between runs: made on first use, restarted later, stopped (not removed)
    after. Its corpus is reused when its fingerprint matches; otherwise (or if a load broke off) it starts over."""

    def __init__(self, folder: Path, fingerprint: str) -> None:
        super().__init__()
        self.dir.rmdir()  # the throwaway folder the base class made
        self.dir = folder.resolve()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.fingerprint = fingerprint
        self._marker = self.dir / "corpus"
        self.ready = self._marker.exists() and self._marker.read_text() == fingerprint

    def mark(self) -> None:
        self._marker.write_text(self.fingerprint)
        self.ready = True

    def __enter__(self) -> PgVectorCluster:
        data = self.dir / "data"
        if not self.ready:
            shutil.rmtree(data, ignore_errors=True)
            self._marker.unlink(missing_ok=True)
        if not data.exists():
            return super().__enter__()
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c shared_buffers=256MB -c maintenance_work_mem=512MB")
        self._run(str(bundled_bin("pg_ctl")), "-D", str(data), "-o", options, "-w", "-l", str(self.dir / "log"),
                  "start")
        return self

    def __exit__(self, *_: object) -> None:
        self._run(str(bundled_bin("pg_ctl")), "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")


if __name__ == "__main__":
    asyncio.run(main())
