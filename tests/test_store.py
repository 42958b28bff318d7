"""The data layer (migrations, accounts, threads and messages, usage) on SQLite and on real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.accounts.store import AccountStore, UserExists
from parlor.db import ApiKey, Message, Thread, Usage, create_engine, migrate, new_id, session_factory, utcnow
from parlor.db.engine import alembic_config
from parlor.limits import UsageLedger, UsageRecord
from parlor.memory import MessageStore, ThreadNotFound
from parlor.message_json import dump_parts
from parlor.messages import TextPart

Sessions = async_sessionmaker[AsyncSession]
TABLES = {"users", "api_keys", "threads", "messages", "usage"}


# ---- fixtures (db_url: tests/conftest.py) ----
@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[Sessions]:
    await migrate(db_url)
    engine = create_engine(db_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def accounts(sessions: Sessions) -> AccountStore:
    return AccountStore(sessions)


@pytest.fixture
def store(sessions: Sessions) -> MessageStore:
    return MessageStore(sessions)


@pytest.fixture
async def alice(accounts: AccountStore) -> str:
    return (await accounts.create_user("alice", "free")).principal.id


@pytest.fixture
async def bob(accounts: AccountStore) -> str:
    return (await accounts.create_user("bob", "free")).principal.id


# ---- helpers ----
def turn_messages(thread_id: str, client_id: str, text_: str, at: datetime | None = None) -> tuple[Message, Message]:
    """A user message and the (streaming) assistant answer, built as ChatService.run_turn builds them."""
    now = at or utcnow()
    user = Message(id=new_id(), thread_id=thread_id, client_id=client_id, role="user", text=text_,
                   parts=dump_parts([TextPart(text_)]), status="complete", created_at=now)
    assistant = Message(id=new_id(), thread_id=thread_id, role="assistant", parts=[], text="",
                        status="streaming", created_at=now + timedelta(microseconds=1))
    return user, assistant


async def turn(store: MessageStore, user_id: str, thread_id: str, client_id: str, text_: str = "hello",
               at: datetime | None = None) -> tuple[Message, Message]:
    user, assistant = turn_messages(thread_id, client_id, text_, at)
    await store.begin_turn(user_id=user_id, thread_id=thread_id, title=text_[:80], user_message=user,
                           assistant_message=assistant)
    return user, assistant


async def count(sessions: Sessions, model: Any, *where: Any) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


# ---- migrations ----
async def test_migrations_create_the_tables_and_are_idempotent(db_url: str) -> None:
    head = ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()  # one head: no forked chain
    await migrate(db_url)
    engine = create_engine(db_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(table_names) >= TABLES
            assert (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one() == head
        accounts = AccountStore(session_factory(engine))
        created = await accounts.create_user("survivor", "free")

        await migrate(db_url)  # a second run is a no-op: nothing fails, nothing is lost

        async with engine.connect() as connection:
            assert await connection.run_sync(table_names) >= TABLES
            versions = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
            assert versions == [head]
        assert await accounts.authenticate(created.api_key) == created.principal
    finally:
        await engine.dispose()


# ---- accounts ----
async def test_created_key_authenticates_to_its_user(accounts: AccountStore) -> None:
    carol = await accounts.create_user("carol", "pro", role="admin")
    await accounts.create_user("dave", "free")
    principal = await accounts.authenticate(carol.api_key)
    assert principal == carol.principal
    assert (principal.name, principal.tier, principal.role, principal.is_admin) == ("carol", "pro", "admin", True)


async def test_the_key_itself_is_not_stored(accounts: AccountStore, sessions: Sessions) -> None:
    created = await accounts.create_user("carol", "free")
    async with sessions() as session:
        row = (await session.execute(select(ApiKey).where(ApiKey.user_id == created.principal.id))).scalar_one()
    assert row.key_hash != created.api_key
    assert created.api_key not in row.key_hash
    assert len(row.key_hash) == 64 and int(row.key_hash, 16) >= 0  # a hex digest
    assert row.prefix == created.api_key[:10] and len(row.prefix) < len(created.api_key) // 3


@pytest.mark.parametrize("garble", [
    lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),  # one character off
    lambda k: k + "x",
    lambda k: k[3:],  # without the "pk-" prefix
    lambda k: "pk-" + "0" * 43,
    lambda k: "",
    lambda k: k.upper(),
])
async def test_wrong_keys_do_not_authenticate(accounts: AccountStore, garble: Callable[[str], str]) -> None:
    created = await accounts.create_user("carol", "free")
    assert await accounts.authenticate(garble(created.api_key)) is None
    assert await accounts.authenticate(created.api_key) is not None


async def test_revoked_key_does_not_authenticate(accounts: AccountStore) -> None:
    carol = await accounts.create_user("carol", "free")
    dave = await accounts.create_user("dave", "free")
    assert await accounts.revoke("carol") == 1
    assert await accounts.authenticate(carol.api_key) is None
    assert await accounts.authenticate(dave.api_key) == dave.principal  # only carol's keys
    assert await accounts.revoke(carol.principal.id) == 0  # nothing left to revoke
    assert await accounts.revoke("nobody") == 0


async def test_duplicate_name_raises_user_exists(accounts: AccountStore) -> None:
    first = await accounts.create_user("carol", "free")
    with pytest.raises(UserExists):
        await accounts.create_user("carol", "pro")
    assert [u.name for u in await accounts.list_users()] == ["carol"]
    assert await accounts.authenticate(first.api_key) == first.principal


async def test_local_user_is_created_once_and_moved_to_the_tier_asked(accounts: AccountStore) -> None:
    first = await accounts.local_user("free")  # as earlier versions made it: on the default tier
    assert (first.name, first.tier, first.is_admin) == ("local", "free", True)
    second = await accounts.local_user("unlimited")
    assert (second.id, second.tier) == (first.id, "unlimited")
    assert await accounts.local_user("unlimited") == second  # idempotent
    assert [(u.name, u.tier) for u in await accounts.list_users()] == [("local", "unlimited")]


# ---- threads and messages ----
async def test_begin_turn_creates_the_thread_and_stores_both_messages(
    store: MessageStore, alice: str
) -> None:
    assert (await store.thread_state(alice, "t1", 10)).exists is False
    user, assistant = await turn(store, alice, "t1", "c1", "What is a parlor?")
    summary, messages = await store.get_thread(alice, "t1")
    assert summary.id == "t1" and summary.title == "What is a parlor?"
    assert [(m.id, m.role, m.client_id, m.text, m.status) for m in messages] == [
        (user.id, "user", "c1", "What is a parlor?", "complete"),
        (assistant.id, "assistant", None, "", "streaming"),
    ]
    assert messages[0].parts == (TextPart("What is a parlor?"),)
    assert (await store.thread_state(alice, "t1", 10)).exists is True


async def test_same_client_id_does_not_duplicate_the_user_message(
    store: MessageStore, sessions: Sessions, alice: str
) -> None:
    first, _ = await turn(store, alice, "t1", "c1", "once")
    await turn(store, alice, "t1", "c1", "once")  # a retried POST: new ids, same client id
    await turn(store, alice, "t2", "c1", "other thread")  # the same client id elsewhere is its own message
    _, messages = await store.get_thread(alice, "t1")
    users = [m for m in messages if m.role == "user"]
    assert [(m.id, m.client_id) for m in users] == [(first.id, "c1")]
    assert await count(sessions, Message, Message.thread_id == "t2", Message.role == "user") == 1


async def test_concurrent_first_turns_of_a_thread_both_succeed(store: MessageStore, alice: str) -> None:
    """A retried POST racing its original (e.g. on another replica) must add nothing and fail nothing."""
    for i in range(5):
        await asyncio.gather(turn(store, alice, f"race-{i}", "c1"), turn(store, alice, f"race-{i}", "c1"))
        _, messages = await store.get_thread(alice, f"race-{i}")
        assert [m.role for m in messages].count("user") == 1


async def test_thread_state_returns_the_recent_messages_oldest_first(store: MessageStore, alice: str) -> None:
    base = utcnow() - timedelta(minutes=5)
    stored: list[Message] = []
    for i in range(3):
        stored += await turn(store, alice, "t1", f"c{i}", f"question {i}", at=base + timedelta(seconds=i))
    state = await store.thread_state(alice, "t1", 4)
    assert state.exists
    assert [m.id for m in state.recent] == [m.id for m in stored[-4:]]
    assert [m.role for m in state.recent] == ["user", "assistant", "user", "assistant"]
    assert [m.id for m in (await store.thread_state(alice, "t1", 100)).recent] == [m.id for m in stored]


async def test_another_users_thread_is_not_found(store: MessageStore, sessions: Sessions, alice: str,
                                                 bob: str) -> None:
    await turn(store, alice, "t1", "c1", "private")
    with pytest.raises(ThreadNotFound):
        await store.thread_state(bob, "t1", 10)
    with pytest.raises(ThreadNotFound):
        await store.get_thread(bob, "t1")
    with pytest.raises(ThreadNotFound):
        await store.rename_thread(bob, "t1", "mine now")
    with pytest.raises(ThreadNotFound):
        await store.delete_thread(bob, "t1")
    with pytest.raises(ThreadNotFound):
        await turn(store, bob, "t1", "c2", "let me in")
    summary, messages = await store.get_thread(alice, "t1")  # untouched
    assert summary.title == "private" and len(messages) == 2
    assert (await store.list_threads(bob, 10)).threads == []


async def test_finish_message_updates_text_and_status(store: MessageStore, alice: str) -> None:
    _, assistant = await turn(store, alice, "t1", "c1")
    await store.finish_message(assistant.id, text="Hi there", parts=dump_parts([TextPart("Hi there")]),
                               status="complete", provider="p1", model="m1", tokens_in=3, tokens_out=2)
    _, messages = await store.get_thread(alice, "t1")
    answer = messages[-1]
    assert (answer.id, answer.text, answer.status) == (assistant.id, "Hi there", "complete")
    assert answer.parts == (TextPart("Hi there"),)
    assert answer.meta == {"provider": "p1", "model": "m1", "tokens_in": 3, "tokens_out": 2}


async def test_rename_thread(store: MessageStore, alice: str) -> None:
    await turn(store, alice, "t1", "c1", "first title")
    assert (await store.rename_thread(alice, "t1", "Renamed")).title == "Renamed"
    assert (await store.get_thread(alice, "t1"))[0].title == "Renamed"


async def test_list_threads_is_newest_first_by_updated_at(store: MessageStore, alice: str, bob: str) -> None:
    for i in range(4):
        await turn(store, alice, f"t{i}", "c1")
    await turn(store, bob, "bobs", "c1")
    await turn(store, alice, "t1", "c2")  # a new turn moves t1 to the top
    page = await store.list_threads(alice, 10)
    assert [t.id for t in page.threads] == ["t1", "t3", "t2", "t0"]
    assert page.next_cursor is None
    stamps = [t.updated_at for t in page.threads]
    assert stamps == sorted(stamps, reverse=True)


async def test_cursor_pagination_walks_every_thread_once(store: MessageStore, alice: str) -> None:
    ids = [f"thread-{i}" for i in range(7)]
    for thread_id in ids:
        await turn(store, alice, thread_id, "c1")
    seen: list[str] = []
    sizes: list[int] = []
    cursor: str | None = None
    for _ in range(10):  # a bound, so a cursor that never ends fails instead of hanging
        page = await store.list_threads(alice, 3, cursor)
        seen += [t.id for t in page.threads]
        sizes.append(len(page.threads))
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sizes == [3, 3, 1]
    assert seen == list(reversed(ids))


async def test_cursor_pagination_breaks_updated_at_ties_by_id(store: MessageStore, sessions: Sessions,
                                                              alice: str) -> None:
    ids = [f"thread-{i}" for i in range(7)]
    for thread_id in ids:
        await turn(store, alice, thread_id, "c1")
    async with sessions.begin() as session:  # every thread updated at the very same instant
        await session.execute(update(Thread).values(updated_at=utcnow()))
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        page = await store.list_threads(alice, 3, cursor)
        seen += [t.id for t in page.threads]
        if (cursor := page.next_cursor) is None:
            break
    assert seen == sorted(ids, reverse=True)


@pytest.mark.parametrize("cursor", ["not a cursor!", "bm9waXBl", "Zm9vfGJhcg", "%%%"])
async def test_invalid_cursor_raises_value_error(store: MessageStore, alice: str, cursor: str) -> None:
    await turn(store, alice, "t1", "c1")
    with pytest.raises(ValueError):
        await store.list_threads(alice, 3, cursor)


async def test_delete_removes_the_thread_and_its_messages(store: MessageStore, sessions: Sessions,
                                                          alice: str) -> None:
    await turn(store, alice, "t1", "c1")
    await turn(store, alice, "t1", "c2")
    await turn(store, alice, "keep", "c1")
    assert await count(sessions, Message, Message.thread_id == "t1") == 4
    await store.delete_thread(alice, "t1")
    assert await count(sessions, Message, Message.thread_id == "t1") == 0
    assert await count(sessions, Message, Message.thread_id == "keep") == 2
    with pytest.raises(ThreadNotFound):
        await store.get_thread(alice, "t1")
    assert [t.id for t in (await store.list_threads(alice, 10)).threads] == ["keep"]
    assert (await store.thread_state(alice, "t1", 10)).exists is False


async def test_begin_turn_replaces_an_answer_lost_with_its_replica(store: MessageStore, alice: str) -> None:
    user, old = await turn(store, alice, "t1", "c1")
    _, new = turn_messages("t1", "unused", "hello")
    await store.begin_turn(user_id=alice, thread_id="t1", title="hello", user_message=None,
                           assistant_message=new, parent=user.id, replaces=(old.id,))
    _, messages = await store.get_thread(alice, "t1")
    assert [m.id for m in messages] == [user.id, new.id]


# ---- usage ----
async def test_usage_ledger_records_a_row(sessions: Sessions, alice: str) -> None:
    record = UsageRecord(request_id="req-1", user_id=alice, thread_id="t1", provider="p1", model="m1",
                         tokens_in=12, tokens_out=34, ttft_ms=56.5, total_ms=789.25, status="complete",
                         cost_usd=0.00123)
    await UsageLedger(sessions).record(record)
    async with sessions() as session:
        row = (await session.execute(select(Usage).where(Usage.request_id == "req-1"))).scalar_one()
    assert (row.user_id, row.thread_id, row.provider, row.model) == (alice, "t1", "p1", "m1")
    assert (row.tokens_in, row.tokens_out, row.status) == (12, 34, "complete")
    assert row.ttft_ms == pytest.approx(56.5) and row.total_ms == pytest.approx(789.25)
    assert row.cost_usd == pytest.approx(0.00123)
    assert row.id and row.created_at is not None
