"""Versions and branches: a thread's messages form a tree (each names its parent, the message before it
on its branch); the thread shows and continues one path, root to its leaf. Siblings -- messages sharing a
parent -- are versions: the answers of a regenerated question, the questions of an edit. Pure functions
over messages already read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from parlor.messages import StoredMessage


def _children(messages: Sequence[StoredMessage]) -> dict[str | None, list[StoredMessage]]:
    """Each parent's children, oldest first (the messages come ordered by (created_at, id))."""
    children: dict[str | None, list[StoredMessage]] = {}
    for message in messages:
        children.setdefault(message.parent_id, []).append(message)
    return children


def path(messages: Sequence[StoredMessage], leaf_id: str | None) -> list[StoredMessage]:
    """Root to leaf, each with its `versions`. `messages`: the whole thread, ordered by (created_at, id);
    no leaf (or one no longer stored): the newest message's branch."""
    if not messages:
        return []
    by_id = {m.id: m for m in messages}
    children = _children(messages)
    node: StoredMessage | None = by_id.get(leaf_id or "") or messages[-1]
    walked: list[StoredMessage] = []
    seen: set[str] = set()
    while node is not None and node.id not in seen:  # `seen`: a cycle cannot be stored, but never loop
        seen.add(node.id)
        walked.append(replace(node, versions=tuple(m.id for m in children[node.parent_id])))
        node = by_id.get(node.parent_id) if node.parent_id is not None else None
    return walked[::-1]


def newest_leaf(messages: Sequence[StoredMessage], through: str) -> str:
    """The leaf of the branch through message `through`: following the newest child at each step."""
    children = _children(messages)
    node = through
    while kids := children.get(node):
        node = kids[-1].id
    return node
