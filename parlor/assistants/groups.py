"""Groups of users, kept by admins: who is in which (an assistant may be shared with a group), and the
tier a group gives its members (read with each key's user: parlor/accounts/store.py)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.assistants.types import GroupExists, GroupNotFound, GroupView, Ref, UnknownUser
from parlor.db import User
from parlor.db.models import Group, GroupMember

UNSET: object = object()  # a PATCH that leaves the tier as it is


class GroupStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    async def all(self) -> list[GroupView]:
        async with self._sessions() as session:
            groups = list((await session.execute(select(Group).order_by(Group.name))).scalars())
            return await _views(session, groups)

    async def of_user(self, user_id: str) -> list[Ref]:
        """The user's groups, by name."""
        query = (select(Group.id, Group.name).join(GroupMember, GroupMember.group_id == Group.id)
                 .where(GroupMember.user_id == user_id).order_by(Group.name))
        async with self._sessions() as session:
            return [Ref(row.id, row.name) for row in await session.execute(query)]

    async def create(self, name: str, tier: str | None, members: Sequence[str]) -> GroupView:
        """Raises GroupExists, UnknownUser."""
        try:
            async with self._sessions.begin() as session:
                group = Group(name=name, tier=tier)
                session.add(group)
                await session.flush()
                await _set_members(session, group.id, members)
                (view,) = await _views(session, [group])
        except IntegrityError:
            raise GroupExists(name) from None
        return view

    async def update(self, group_id: str, name: str | None, tier: str | object | None,
                     members: Sequence[str] | None) -> tuple[GroupView, set[str]]:
        """The group changed, and the users whose tier or groups may have changed with it (those who were
        or are in it). Raises GroupNotFound, GroupExists, UnknownUser."""
        try:
            async with self._sessions.begin() as session:
                group = await session.get(Group, group_id)
                if group is None:
                    raise GroupNotFound(group_id)
                touched = set(await _members(session, group_id))
                if name is not None:
                    group.name = name
                if tier is not UNSET:
                    group.tier = tier  # type: ignore[assignment]
                if members is not None:
                    await _set_members(session, group_id, members)
                    touched |= set(members)
                await session.flush()
                (view,) = await _views(session, [group])
        except IntegrityError:
            raise GroupExists(name or "") from None
        return view, touched

    async def delete(self, group_id: str) -> set[str] | None:
        """Deletes the group (and its shares); its former members, or None when there is no such group."""
        async with self._sessions.begin() as session:
            if await session.get(Group, group_id) is None:
                return None
            members = set(await _members(session, group_id))
            await session.execute(delete(GroupMember).where(GroupMember.group_id == group_id))
            await session.execute(delete(Group).where(Group.id == group_id))
            return members


async def _members(session: AsyncSession, group_id: str) -> list[str]:
    return list((await session.execute(select(GroupMember.user_id).where(GroupMember.group_id == group_id))).scalars())


async def _set_members(session: AsyncSession, group_id: str, members: Sequence[str]) -> None:
    wanted = list(dict.fromkeys(members))
    found = set((await session.execute(select(User.id).where(User.id.in_(wanted)))).scalars()) if wanted else set()
    if missing := [m for m in wanted if m not in found]:
        raise UnknownUser(missing)
    await session.execute(delete(GroupMember).where(GroupMember.group_id == group_id))
    session.add_all(GroupMember(group_id=group_id, user_id=user_id) for user_id in wanted)


async def _views(session: AsyncSession, groups: Sequence[Group]) -> list[GroupView]:
    ids = [g.id for g in groups]
    members: dict[str, list[Ref]] = {i: [] for i in ids}
    if ids:
        rows = await session.execute(select(GroupMember.group_id, User.id, User.name)
                                     .join(User, User.id == GroupMember.user_id)
                                     .where(GroupMember.group_id.in_(ids)).order_by(User.name))
        for row in rows:
            members[row.group_id].append(Ref(row.id, row.name))
    return [GroupView(g.id, g.name, g.tier, tuple(members[g.id])) for g in groups]
