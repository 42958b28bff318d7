"""Versions and branches on SQLite and PostgreSQL: a regenerated answer and an edited question are new
versions beside the old ones (nothing deleted), the thread shows and continues one branch (its leaf), the
turn's one read follows that branch and uses a summary only when it covers part of it, switching branch
follows the newest child down, and export and deletion take every branch."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from parlor.accounts.data import AccountData
from parlor.db import Message, new_id
from parlor.memory import ContextReader, MessageNotFound, MessageStore, StoredMessage, SummaryStore, ThreadNotFound
from parlor.messages import MessageStatus
from tests.test_context import BASE, Sessions, engine, sessions, users
from tests.test_summaries import POLICY, FakeModel, summariser

__all__ = ["engine", "sessions"]  # fixtures, shared with tests/test_context.py


def message(role: str, text: str, at: int, client_id: str | None = None) -> Message:
    return Message(id=new_id(), thread_id="t1", client_id=client_id, role=role, text=text,
                   parts=[{"type": "text", "text": text}], status="complete",
                   created_at=BASE + timedelta(seconds=at), tokens=6)


async def exchange(store: MessageStore, user: str, question: str, at: int,
                   **parent: str | None) -> tuple[Message, Message]:
    """A turn as the planner stores it: the question under `parent` (by default the thread's leaf; an
    edit names the edited question's parent)."""
    asked, answer = message("user", question, at, client_id=new_id()), message("assistant", f"re {question}", at + 1)
    await store.begin_turn(user_id=user, thread_id="t1", title="t", user_message=asked, assistant_message=answer,
                           **parent)
    return asked, answer


async def regenerate(store: MessageStore, user: str, question: Message, at: int) -> Message:
    answer = message("assistant", f"again {question.text}", at)
    await store.begin_turn(user_id=user, thread_id="t1", title="t", user_message=None, assistant_message=answer,
                           parent=question.id)
    return answer


def texts(messages: list[StoredMessage]) -> list[str]:
    return [m.text for m in messages]


async def test_regenerate_and_edit_add_versions_and_the_leaf_route_switches_branch(sessions: Sessions) -> None:
    alice, bob = await users(sessions)
    store = MessageStore(sessions)
    q1, a1 = await exchange(store, alice, "q1", 0)
    q2, a2 = await exchange(store, alice, "q2", 10)
    a2b = await regenerate(store, alice, q2, 20)  # beside a2, under q2
    _, path = await store.get_thread(alice, "t1")
    assert texts(path) == ["q1", "re q1", "q2", "again q2"]
    assert [m.versions for m in path] == [(q1.id,), (a1.id,), (q2.id,), (a2.id, a2b.id)]

    q2b, _ = await exchange(store, alice, "q2 edited", 30, parent=a1.id)  # an edit of q2
    _, path = await store.get_thread(alice, "t1")
    assert texts(path) == ["q1", "re q1", "q2 edited", "re q2 edited"]
    assert path[2].versions == (q2.id, q2b.id)

    # Back to the first version of q2: its branch down to its newest answer (the regenerated one).
    _, path = await store.set_leaf(alice, "t1", q2.id)
    assert texts(path) == ["q1", "re q1", "q2", "again q2"]
    _, path = await store.set_leaf(alice, "t1", a2.id)  # the first answer: a leaf itself
    assert texts(path) == ["q1", "re q1", "q2", "re q2"]
    await exchange(store, alice, "q3", 40)  # continues the branch shown
    _, path = await store.get_thread(alice, "t1")
    assert texts(path) == ["q1", "re q1", "q2", "re q2", "q3", "re q3"] and path[4].parent_id == a2.id

    with pytest.raises(MessageNotFound):
        await store.set_leaf(alice, "t1", "no-such-message")
    with pytest.raises(ThreadNotFound):
        await store.set_leaf(bob, "t1", q2.id)
    async with sessions() as session:  # nothing was deleted: q1, q2 twice, q3 and their five answers
        assert (await session.execute(select(func.count()).select_from(Message))).scalar_one() == 9


async def test_an_edit_of_the_first_message_is_a_second_root(sessions: Sessions) -> None:
    alice, _ = await users(sessions)
    store = MessageStore(sessions)
    q1, _ = await exchange(store, alice, "first", 0)
    q1b, _ = await exchange(store, alice, "first, edited", 10, parent=None)
    _, path = await store.get_thread(alice, "t1")
    assert texts(path) == ["first, edited", "re first, edited"] and path[0].versions == (q1.id, q1b.id)
    _, path = await store.set_leaf(alice, "t1", q1.id)
    assert texts(path) == ["first", "re first"]


async def test_the_turns_one_read_follows_the_branch(engine: AsyncEngine, sessions: Sessions) -> None:
    alice, _ = await users(sessions)
    store = MessageStore(sessions)
    for i in range(5):
        await exchange(store, alice, f"q{i}", 10 * i)
    q5, _ = await exchange(store, alice, "q5", 50)
    _, a4 = (await store.get_thread(alice, "t1"))[1][8:10]
    await exchange(store, alice, "q5 edited", 60, parent=a4.id)
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    window = await ContextReader(engine).read(alice, "t1", 4)
    assert len(statements) == 1  # still one statement
    assert texts(window.recent) == ["q4", "re q4", "q5 edited", "re q5 edited"] and window.capped
    await store.set_leaf(alice, "t1", q5.id)
    window = await ContextReader(engine).read(alice, "t1", 100)
    assert texts(window.recent) == [t for i in range(6) for t in (f"q{i}", f"re q{i}")] and not window.capped


async def test_a_summary_is_used_only_on_the_branch_it_covers(engine: AsyncEngine, sessions: Sessions) -> None:
    alice, _ = await users(sessions)
    store = MessageStore(sessions)
    for i in range(10):  # 20 messages of 6 tokens: a summary is due
        await exchange(store, alice, f"q{i}", 10 * i)
    branch = (await store.get_thread(alice, "t1"))[1]
    assert await summariser(sessions, FakeModel()).refresh("t1") == 1
    summary = await SummaryStore(sessions).latest("t1")
    assert summary is not None and summary.covers_through_message_id in {m.id for m in branch}
    window = await ContextReader(engine).read(alice, "t1", 100)
    assert window.summary == summary  # on the branch

    # An edit of the second question: a branch that leaves the summarised part behind.
    await exchange(store, alice, "q1 edited", 200, parent=branch[1].id)
    window = await ContextReader(engine).read(alice, "t1", 100)
    assert window.summary is None  # it covers messages of another branch: the window alone
    assert texts(window.recent) == ["q0", "re q0", "q1 edited", "re q1 edited"]
    assert texts(window.unsummarised()) == texts(window.recent)
    pending_summary, pending = await SummaryStore(sessions).pending("t1")  # the summariser's view: this branch
    assert pending_summary is None and texts(pending) == texts(window.recent)

    await store.set_leaf(alice, "t1", branch[2].id)  # back: the summary counts again
    window = await ContextReader(engine).read(alice, "t1", 100)
    assert window.summary == summary
    assert sum(m.tokens or 0 for m in window.unsummarised()) <= POLICY.keep_tokens


async def test_export_and_deletion_take_every_branch(sessions: Sessions) -> None:
    alice, _ = await users(sessions)
    store = MessageStore(sessions)
    q1, _ = await exchange(store, alice, "q1", 0)
    await regenerate(store, alice, q1, 5)
    await exchange(store, alice, "q1 edited", 10, parent=None)
    exported = await AccountData(sessions).export(alice)
    (thread,) = exported["threads"]
    assert sorted(m["text"] for m in thread["messages"]) == ["again q1", "q1", "q1 edited", "re q1", "re q1 edited"]
    assert thread["leaf_id"] == thread["messages"][-1]["id"]
    assert {m["parent_id"] for m in thread["messages"]} >= {None, q1.id}

    await store.delete_thread(alice, "t1")  # the branches all go, the parents' links notwithstanding
    async with sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Message))).scalar_one() == 0
    await exchange(store, alice, "q1", 20)
    await regenerate(store, alice, (await store.get_thread(alice, "t1"))[1][0], 25)
    deleted = await AccountData(sessions).delete(alice)
    assert deleted["messages"] == 3 and deleted["threads"] == 1


def test_a_stored_message_with_versions_says_which_it_is() -> None:
    from parlor.api.threads import ui_message

    lone = StoredMessage("m1", None, "user", "hi", (), MessageStatus.COMPLETE, BASE)
    assert "versions" not in ui_message(lone)["metadata"]
    second = StoredMessage("m2", None, "assistant", "hi", (), MessageStatus.COMPLETE, BASE, versions=("m1", "m2", "m3"))
    assert ui_message(second)["metadata"]["versions"] == {"index": 2, "count": 3, "ids": ["m1", "m2", "m3"]}
