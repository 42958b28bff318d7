"""One contract, both vector stores: sqlite-vec (embedded) and pgvector (PostgreSQL, HNSW). Searches
are filtered by the caller inside the query: a small user among big ones still gets k hits of their own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest

from parlor.rag.pg_store import PgVectorStore
from parlor.rag.sqlite_store import SqliteVecStore
from parlor.rag.store import ChunkRecord, Hit, Scope, VectorStore, fuse, keywords
from tests import rag_corpus
from tests.pgvector_cluster import PgVectorCluster
from tests.rag_kit import knowledge, wait_final

DIMS = 384
rng = np.random.default_rng(42)


def unit(n: int, near: np.ndarray | None = None, noise: float = 1.0) -> np.ndarray:
    vectors = rng.standard_normal((n, DIMS)).astype(np.float32) * noise
    if near is not None:
        vectors += near
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def records(document_id: str, user_id: str, texts: list[str], thread_id: str | None = None) -> list[ChunkRecord]:
    return [ChunkRecord(document_id, user_id, thread_id, i, i + 1, text, f"{document_id}.pdf")
            for i, text in enumerate(texts)]


@pytest.fixture(scope="module")
def pgvector() -> Iterator[PgVectorCluster]:
    with PgVectorCluster() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "pgvector"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorStore]:
    made: VectorStore
    if request.param == "sqlite":
        made = SqliteVecStore(tmp_path / "vectors.sqlite", DIMS)
    else:
        made = PgVectorStore(request.getfixturevalue("pgvector").url, DIMS)
    await made.setup()
    await made.setup()  # setting up twice is harmless (a server and its workers all do it)
    try:
        yield made
    finally:
        await made.aclose()


def ids() -> tuple[str, str, str]:
    return uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex


async def test_replace_is_idempotent_and_delete_removes_everything(store: VectorStore) -> None:
    doc, user, _ = ids()
    texts = [f"passage {i} about shipping" for i in range(20)]
    await store.replace(doc, records(doc, user, texts), unit(20))
    await store.replace(doc, records(doc, user, texts), unit(20))  # a re-run
    assert await store.count(doc) == 20
    await store.replace(doc, records(doc, user, texts[:5]), unit(5))  # re-parsed into fewer chunks
    assert await store.count(doc) == 5
    await store.delete(doc)
    assert await store.count(doc) == 0
    assert await store.vector_search(Scope(user), unit(1)[0], 5) == []
    assert await store.text_search(Scope(user), "shipping", 5) == []


async def test_nearest_first_with_similarity_scores(store: VectorStore) -> None:
    doc, user, _ = ids()
    query = unit(1)[0]
    vectors = np.vstack([unit(1, near=query * 3, noise=0.05), unit(30)])
    await store.replace(doc, records(doc, user, [f"t{i}" for i in range(31)]), vectors)
    hits = await store.vector_search(Scope(user), query, 5)
    assert len(hits) == 5 and hits[0].ordinal == 0 and hits[0].page == 1 and hits[0].filename == f"{doc}.pdf"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True) and hits[0].score > 0.8


async def test_a_small_user_among_big_ones_gets_only_and_all_their_own(store: VectorStore) -> None:
    big_doc, big_user, small_user = ids()
    small_doc = uuid.uuid4().hex
    query = unit(1)[0]
    await store.replace(big_doc, records(big_doc, big_user, [f"big {i} shipping" for i in range(1500)]),
                        unit(1500, near=query * 2, noise=0.5))  # all much nearer the query than the small user's
    await store.replace(small_doc, records(small_doc, small_user, [f"small {i} shipping" for i in range(8)]),
                        unit(8))
    hits = await store.vector_search(Scope(small_user), query, 5)
    assert len(hits) == 5 and {h.document_id for h in hits} == {small_doc}
    words = await store.text_search(Scope(small_user), "shipping", 5)
    assert len(words) == 5 and {h.document_id for h in words} == {small_doc}
    assert all(h.document_id == big_doc for h in await store.vector_search(Scope(big_user), query, 20))


async def test_each_of_many_users_gets_their_own_exact_nearest(store: VectorStore) -> None:
    """20 users x 200 chunks of random unit vectors: a user's search is that user's true top-10 (an
    index walk over the whole table that keeps only 1 row in 20 must not stop early with worse ones)."""
    users = [uuid.uuid4().hex for _ in range(20)]
    owned: dict[str, np.ndarray] = {}
    for user in users:
        doc, owned[user] = uuid.uuid4().hex, unit(200)
        await store.replace(doc, records(doc, user, [f"{user} {i}" for i in range(200)]), owned[user])
    found = total = 0
    for user in users[::4]:
        for query in unit(5):
            exact = {f"{user} {i}" for i in np.argsort(-(owned[user] @ query))[:10]}
            hits = await store.vector_search(Scope(user), query, 10)
            found, total = found + len(exact & {h.text for h in hits}), total + 10
    assert found / total >= 0.9, f"recall@10 {found / total:.2f}"


async def test_pgvector_search_settings_apply_in_every_transaction_and_no_further(pgvector: PgVectorCluster) -> None:
    """Each search's transaction SETs LOCAL its settings (without them a 40-wide HNSW walk with no iteration
    gave a user among 100 recall@10 0.04); they end with it, so none is left on a connection the pool (or a
    PgBouncer in front) hands to another client. Through a real PgBouncer: tests/test_pgbouncer.py."""
    store = PgVectorStore(pgvector.url, DIMS, pool_size=1)
    await store.setup()
    try:
        for _ in range(3):
            async with store._transaction() as connection:
                assert await connection.fetchval("SHOW hnsw.iterative_scan") == "strict_order"
                assert await connection.fetchval("SHOW hnsw.ef_search") == "100"
            async with store._pool.acquire() as connection:
                assert await connection.fetchval("SHOW hnsw.iterative_scan") == "off"
                assert await connection.fetchval("SHOW hnsw.ef_search") == "40"
    finally:
        await store.aclose()


async def test_thread_documents_are_seen_only_in_their_thread(store: VectorStore) -> None:
    library, scoped, user = ids()
    await store.replace(library, records(library, user, ["library pallet rules"]), unit(1))
    await store.replace(scoped, records(scoped, user, ["thread pallet notes"], "thread-a"), unit(1))
    query = unit(1)[0]
    seen = {h.document_id for h in await store.vector_search(Scope(user, "thread-a"), query, 5)}
    assert seen == {library, scoped}
    assert {h.document_id for h in await store.vector_search(Scope(user, "thread-b"), query, 5)} == {library}
    assert {h.document_id for h in await store.vector_search(Scope(user), query, 5)} == {library}
    assert {h.document_id for h in await store.text_search(Scope(user, "thread-a"), "pallet", 5)} == {library, scoped}
    assert {h.document_id for h in await store.text_search(Scope(user), "pallet", 5)} == {library}


async def test_a_search_sees_every_write_before_it_even_from_another_process(store: VectorStore) -> None:
    first, second, user = ids()
    query = unit(1)[0]
    await store.replace(first, records(first, user, [f"old {i}" for i in range(30)]), unit(30))
    assert {h.document_id for h in await store.vector_search(Scope(user), query, 5)} == {first}  # warm
    writer: VectorStore = store  # a worker process writes through a store of its own
    if isinstance(store, SqliteVecStore):
        writer = SqliteVecStore(store.path, DIMS)
    try:
        await writer.replace(second, records(second, user, ["new"], "thread-n"), unit(1, near=query * 5, noise=0.01))
        hits = await store.vector_search(Scope(user, "thread-n"), query, 5)
        assert hits[0].document_id == second and len(hits) == 5
        await writer.delete(first)
        assert [h.document_id for h in await store.vector_search(Scope(user, "thread-n"), query, 5)] == [second]
        assert await store.vector_search(Scope(user), query, 5) == []
    finally:
        if writer is not store:
            await writer.aclose()


async def test_keyword_search_ranks_matches_and_ignores_operators(store: VectorStore) -> None:
    doc, user, _ = ids()
    texts = ["Forklift operators renew their certification every 24 months.", "The canteen serves lunch.",
             "Forklift forklift forklift maintenance schedule.", "Nothing relevant here at all."]
    await store.replace(doc, records(doc, user, texts), unit(4))
    hits = await store.text_search(Scope(user), "How often do forklift operators renew certification?", 5)
    assert hits[0].ordinal == 0 and {h.ordinal for h in hits} == {0, 2}
    assert await store.text_search(Scope(user), 'what is the "of" OR NEAR(* -', 5) == []  # only stopwords/operators
    assert [h.ordinal for h in await store.text_search(Scope(user), "canteen) AND (lunch", 5)] == [1]


async def test_keyword_search_with_a_word_most_chunks_hold(store: VectorStore) -> None:
    """pgvector picks keyword candidates by a query's uncommon words (by ANALYZE's statistics), so that a
    word most chunks hold never makes it read and rank them all; the ranking still counts it, and a small
    library whose only matches are common words still gets them."""
    doc, big, small = ids()
    if isinstance(store, PgVectorStore):  # a word counts as common in a table of thousands: scale down
        store.candidates = 100
    texts = [f"ubiquitous filler number {i}" for i in range(300)]
    texts[7], texts[200] = "ubiquitous zanzibar ledger", "zanzibar notes"
    await store.replace(doc, records(doc, big, texts), unit(300))
    await store.replace(small, records(small, small, ["ubiquitous a", "ubiquitous b", "other"]), unit(3))
    if isinstance(store, PgVectorStore):
        await store.analyze()
        assert "ubiquit" in await store._common_lexemes()  # the path under test
    hits = await store.text_search(Scope(big), "ubiquitous zanzibar", 5)
    # both of the rare word's chunks, among 300 holding the common one, then others to make up k
    assert hits[0].ordinal in {7, 200} and {7, 200} <= {h.ordinal for h in hits} and len(hits) == 5
    assert sorted(h.text for h in await store.text_search(Scope(small), "ubiquitous zanzibar", 5)) == [
        "ubiquitous a", "ubiquitous b"]


def test_fusion_and_keywords() -> None:
    def hit(doc: str, ordinal: int) -> Hit:
        return Hit(doc, ordinal, None, "", "", 0.0)

    fused = fuse([[hit("a", 0), hit("a", 1), hit("a", 2)], [hit("a", 2), hit("b", 0)]], 3)
    assert [h.key for h in fused] == [("a", 2), ("a", 0), ("a", 1)]  # a tie (a1, b0) goes by key
    assert keywords("What is the NEAR(forklift) \"rule\" -- of 24?") == ["near", "forklift", "rule", "24"]


async def test_the_whole_pipeline_on_postgresql_with_pgvector(pgvector: PgVectorCluster, tmp_path: Path) -> None:
    import asyncpg  # type: ignore[import-untyped]

    admin = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{pgvector.port}/postgres")
    name = f"kb_{uuid.uuid4().hex[:8]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = pgvector.url.rsplit("/", 1)[0] + f"/{name}"
    async with knowledge(tmp_path, database_url=url) as (kb, (alice, bob)):
        assert isinstance(kb.store, PgVectorStore)
        document, _ = await kb.documents.upload(alice, "handbook.pdf", rag_corpus.pdf(30))
        assert await wait_final(kb, document.id) == "ready"
        hits = await kb.retriever.search(Scope(alice), "How many weeks of parental leave at full salary?", 5)
        assert any("18 weeks" in h.text for h in hits)
        assert await kb.retriever.search(Scope(bob), "parental leave", 5) == []
        assert await kb.documents.delete(alice, document.id) and await kb.store.count(document.id) == 0
