"""Assistants in the database. Every read is for one caller and finds only what they may see: their own,
the public ones, and those shared with a group they are in."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.assistants.types import AssistantFields, AssistantView, Badge, DocumentRef, Ref, Visibility
from parlor.db import Document, User, utcnow
from parlor.db.models import Assistant, AssistantGroup, Group, GroupMember

LIST_LIMIT = 500


def visible_to(user_id: str) -> ColumnElement[bool]:
    shared = (select(AssistantGroup.assistant_id)
              .join(GroupMember, GroupMember.group_id == AssistantGroup.group_id)
              .where(GroupMember.user_id == user_id))
    return or_(Assistant.owner_id == user_id, Assistant.visibility == Visibility.PUBLIC.value,
               and_(Assistant.visibility == Visibility.GROUPS.value, Assistant.id.in_(shared)))


def _columns(fields: AssistantFields) -> dict[str, Any]:
    return {"name": fields.name, "description": fields.description, "instructions": fields.instructions,
            "model": fields.model, "tools": list(fields.tools) if fields.tools is not None else None,
            "approval_tools": list(fields.approval_tools), "starters": list(fields.starters),
            "avatar": fields.avatar, "color": fields.color, "visibility": fields.visibility.value}


def _fields(row: Assistant, groups: Sequence[Ref]) -> AssistantFields:
    return AssistantFields(row.name, row.description, row.instructions, row.model,
                           tuple(row.tools) if row.tools is not None else None, tuple(row.approval_tools or ()),
                           tuple(row.starters or ()), row.avatar, row.color, Visibility(row.visibility),
                           tuple(g.id for g in groups))


class AssistantStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    async def visible(self, user_id: str) -> list[AssistantView]:
        """What the user may see and chat with: their own first, then the others, newest first."""
        query = (select(Assistant, User.name).join(User, User.id == Assistant.owner_id).where(visible_to(user_id))
                 .order_by((Assistant.owner_id != user_id), Assistant.created_at.desc(), Assistant.id.desc())
                 .limit(LIST_LIMIT))
        async with self._sessions() as session:
            return await _views(session, list(await session.execute(query)))

    async def get(self, user_id: str, assistant_id: str) -> AssistantView | None:
        query = (select(Assistant, User.name).join(User, User.id == Assistant.owner_id)
                 .where(Assistant.id == assistant_id, visible_to(user_id)))
        async with self._sessions() as session:
            views = await _views(session, list(await session.execute(query)))
        return views[0] if views else None

    async def create(self, owner_id: str, fields: AssistantFields) -> str:
        async with self._sessions.begin() as session:
            row = Assistant(owner_id=owner_id, **_columns(fields))
            session.add(row)
            await session.flush()
            _share(session, row.id, fields)
            return row.id

    async def update(self, assistant_id: str, fields: AssistantFields) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(Assistant, assistant_id)
            if row is None:
                return
            for name, value in _columns(fields).items():
                setattr(row, name, value)
            row.updated_at = utcnow()
            await session.execute(delete(AssistantGroup).where(AssistantGroup.assistant_id == assistant_id))
            _share(session, assistant_id, fields)

    async def delete(self, assistant_id: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(AssistantGroup).where(AssistantGroup.assistant_id == assistant_id))
            await session.execute(delete(Assistant).where(Assistant.id == assistant_id))

    async def badges(self, ids: Sequence[str]) -> dict[str, Badge]:
        """How threads show their assistants (a deleted one is absent)."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        query = select(Assistant.id, Assistant.name, Assistant.avatar, Assistant.color).where(Assistant.id.in_(wanted))
        async with self._sessions() as session:
            return {r.id: Badge(r.id, r.name, r.avatar, r.color) for r in await session.execute(query)}

    async def groups_of(self, user_id: str) -> set[str]:
        async with self._sessions() as session:
            return set((await session.execute(select(GroupMember.group_id)
                                              .where(GroupMember.user_id == user_id))).scalars())


def _share(session: AsyncSession, assistant_id: str, fields: AssistantFields) -> None:
    if fields.visibility is Visibility.GROUPS:
        session.add_all(AssistantGroup(assistant_id=assistant_id, group_id=g) for g in dict.fromkeys(fields.groups))


async def _views(session: AsyncSession, rows: Sequence[Any]) -> list[AssistantView]:
    """The assistants with their owners' names, groups and documents (one query each, whatever the count)."""
    ids = [row.Assistant.id for row in rows]
    groups: dict[str, list[Ref]] = {i: [] for i in ids}
    documents: dict[str, list[DocumentRef]] = {i: [] for i in ids}
    if ids:
        for g in await session.execute(select(AssistantGroup.assistant_id, Group.id, Group.name)
                                       .join(Group, Group.id == AssistantGroup.group_id)
                                       .where(AssistantGroup.assistant_id.in_(ids)).order_by(Group.name)):
            groups[g.assistant_id].append(Ref(g.id, g.name))
        for d in await session.execute(select(Document.assistant_id, Document.id, Document.filename, Document.status)
                                       .where(Document.assistant_id.in_(ids))
                                       .order_by(Document.created_at, Document.id)):
            documents[d.assistant_id].append(DocumentRef(d.id, d.filename, d.status))
    return [AssistantView(a.id, Ref(a.owner_id, owner), _fields(a, groups[a.id]), tuple(groups[a.id]),
                          tuple(documents[a.id]), a.created_at, a.updated_at) for a, owner in rows]


async def document_ids(sessions: async_sessionmaker[AsyncSession], assistant_id: str) -> list[str]:
    async with sessions() as session:
        return list((await session.execute(select(Document.id).where(Document.assistant_id == assistant_id))).scalars())
