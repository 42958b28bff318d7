"""Migration 0010: a database of the release before gains `threads.model` (nullable, so its threads keep
the default), on SQLite and PostgreSQL; the store then keeps a thread's chosen model, and the turn's one
read returns it."""

from __future__ import annotations

from parlor.db import Message, create_engine, new_id, session_factory, utcnow
from parlor.memory import MessageStore
from parlor.memory.context import ContextReader
from parlor.messages import MessageStatus
from tests.migrations_kit import upgrade_an_old_thread

BEFORE = "0009_streaming_answers"


async def test_an_old_database_gains_the_column_and_keeps_a_choice(db_url: str) -> None:
    await upgrade_an_old_thread(db_url, BEFORE)  # a thread of the release before
    engine = create_engine(db_url)
    try:
        store = MessageStore(session_factory(engine))
        assert (await store.get_thread("u1", "t1"))[0].model is None  # the old thread: the default

        await store.begin_turn(user_id="u1", thread_id="t1", title="x", user_message=None,
                               assistant_message=answer("t1"), model="beta")
        await store.begin_turn(user_id="u1", thread_id="t1", title="x", user_message=None,
                               assistant_message=answer("t1"))  # a later turn naming none keeps it
        assert (await store.get_thread("u1", "t1"))[0].model == "beta"
        assert [t.model for t in (await store.list_threads("u1", 10)).threads] == ["beta"]
        window = await ContextReader(engine).read("u1", "t1", messages=10)
        assert window.model == "beta" and window.arm is None and len(window.recent) == 2
    finally:
        await engine.dispose()


def answer(thread_id: str) -> Message:
    return Message(id=new_id(), thread_id=thread_id, role="assistant", parts=[], text="",
                   status=MessageStatus.STREAMING, created_at=utcnow())
