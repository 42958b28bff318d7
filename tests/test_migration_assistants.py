"""Migration 0011: a database of the release before gains groups, assistants and the columns that tie
threads and documents to an assistant, on SQLite and PostgreSQL (the schema is then the models'); a
thread keeps the first assistant it gets, and the turn's one read returns it."""

from __future__ import annotations

from parlor.db import Message, create_engine, new_id, session_factory, utcnow
from parlor.memory import MessageStore
from parlor.memory.context import ContextReader
from parlor.messages import MessageStatus
from tests.migrations_kit import upgrade_an_old_thread

BEFORE = "0010_thread_model"
ASSISTANT = "01a2423c-f3cd-7447-aa35-c3ac4f9a5d77"  # as long as an id gets (it rides in a 16-character column)


async def test_an_old_database_gains_assistants_and_a_thread_keeps_its_first(db_url: str) -> None:
    await upgrade_an_old_thread(db_url, BEFORE)  # a thread of the release before
    engine = create_engine(db_url)
    try:
        store = MessageStore(session_factory(engine))
        assert (await store.get_thread("u1", "t1"))[0].assistant_id is None  # the old thread: none
        reader = ContextReader(engine)
        assert (await reader.read("u1", "t1", messages=10)).assistant_id is None

        for named in (ASSISTANT, "another-one"):  # the second never replaces the first
            await store.begin_turn(user_id="u1", thread_id="t1", title="x", user_message=None,
                                   assistant_message=answer("t1"), assistant=named)
        await store.begin_turn(user_id="u1", thread_id="t1", title="x", user_message=None,
                               assistant_message=answer("t1"))  # naming none keeps it too
        assert (await store.get_thread("u1", "t1"))[0].assistant_id == ASSISTANT
        window = await reader.read("u1", "t1", messages=10)
        assert window.assistant_id == ASSISTANT and window.model is None and len(window.recent) == 3
        assert [m.status for m in window.recent] == [MessageStatus.STREAMING] * 3  # the messages' own column
    finally:
        await engine.dispose()


def answer(thread_id: str) -> Message:
    return Message(id=new_id(), thread_id=thread_id, role="assistant", parts=[], text="",
                   status=MessageStatus.STREAMING, created_at=utcnow())
