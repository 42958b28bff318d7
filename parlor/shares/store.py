"""Share links: a random 192-bit token names a snapshot of a chat; only the token's SHA-256 is stored.

Like API keys (parlor/accounts/keys.py): the token is a bearer credential with nothing to brute-force, so
a fast hash makes lookup one indexed equality, and a copy of the database (a backup, a replica) opens no
link. The price: the owner sees a link once, when it is made (making another is one click)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.accounts.keys import aware, hash_key
from parlor.db.models import Share, Thread, utcnow


@dataclass(frozen=True, slots=True)
class ShareInfo:
    """What the owner may see of a link after it was made: never its token."""

    id: str
    through_message_id: str
    title: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SharedChat:
    """What a link opens: the snapshot, and whose thread its files are read from (never shown)."""

    title: str | None
    created_at: datetime
    messages: list[dict[str, Any]]
    user_id: str
    thread_id: str


def new_token() -> str:
    return secrets.token_urlsafe(24)  # 192 bits, 32 URL-safe characters


def _info(share: Share) -> ShareInfo:
    return ShareInfo(share.id, share.through_message_id, share.title, aware(share.created_at))


class ShareStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    async def create(self, user_id: str, thread_id: str, through_message_id: str, title: str | None,
                     snapshot: list[dict[str, Any]]) -> tuple[ShareInfo, str]:
        """A new link to `snapshot` (the caller checked the thread is the user's); the link and its token,
        which is not stored and cannot be read back."""
        token = new_token()
        share = Share(token_hash=hash_key(token), thread_id=thread_id, user_id=user_id,
                      through_message_id=through_message_id, title=title, snapshot=snapshot, created_at=utcnow())
        async with self._sessions.begin() as session:
            session.add(share)
        return _info(share), token

    async def active(self, user_id: str, thread_id: str) -> list[ShareInfo] | None:
        """The thread's links not revoked, newest first; None when the thread is not the user's."""
        owned = select(Thread.id).where(Thread.id == thread_id, Thread.user_id == user_id)
        query = (select(Share).where(Share.user_id == user_id, Share.thread_id == thread_id,
                                     Share.revoked_at.is_(None))
                 .order_by(Share.created_at.desc(), Share.id.desc()))
        async with self._sessions() as session:
            if (await session.execute(owned)).scalar() is None:
                return None
            return [_info(s) for s in (await session.execute(query)).scalars()]

    async def revoke(self, user_id: str, share_id: str) -> bool:
        """Revokes the user's link; False when they have no such link (or it was revoked already)."""
        async with self._sessions.begin() as session:
            done = await session.execute(update(Share).where(
                Share.id == share_id, Share.user_id == user_id, Share.revoked_at.is_(None)).values(revoked_at=utcnow()))
            return bool(getattr(done, "rowcount", 0))

    async def open(self, token: str) -> SharedChat | None:
        """The chat a token shares; None for a token nobody made, or a revoked link."""
        query = select(Share).where(Share.token_hash == hash_key(token), Share.revoked_at.is_(None))
        async with self._sessions() as session:
            share = (await session.execute(query)).scalar_one_or_none()
        if share is None:
            return None
        return SharedChat(share.title, aware(share.created_at), list(share.snapshot), share.user_id, share.thread_id)
