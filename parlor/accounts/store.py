"""Users and API keys. Keys are random 256-bit secrets, so a SHA-256 hash is enough to store them:
lookup is one indexed equality on the hash, and nothing reversible is kept."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.db import ApiKey, User, utcnow

KEY_PREFIX = "pk-"
LOCAL_USER = "local"


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    name: str
    tier: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class NewUser:
    principal: Principal
    api_key: str
    created_at: datetime


class UserExists(Exception):
    pass


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _principal(user: User) -> Principal:
    return Principal(id=user.id, name=user.name, tier=user.tier, role=user.role)


class AccountStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    async def create_user(self, name: str, tier: str, role: str = "user") -> NewUser:
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        user = User(name=name, tier=tier, role=role)
        try:
            async with self._sessions.begin() as session:
                session.add(user)
                await session.flush()
                session.add(ApiKey(user_id=user.id, key_hash=hash_key(key), prefix=key[:10]))
        except IntegrityError:
            raise UserExists(f"a user named {name!r} already exists") from None
        return NewUser(_principal(user), key, user.created_at)

    async def authenticate(self, key: str) -> Principal | None:
        if not key.startswith(KEY_PREFIX):
            return None  # cheap rejection: not even shaped like a key
        query = (
            select(User)
            .join(ApiKey, ApiKey.user_id == User.id)
            .where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
        )
        async with self._sessions() as session:
            user = (await session.execute(query)).scalar_one_or_none()
        return _principal(user) if user else None

    async def list_users(self) -> list[Principal]:
        async with self._sessions() as session:
            users = (await session.execute(select(User).order_by(User.created_at))).scalars()
            return [_principal(u) for u in users]

    async def update_user(self, name_or_id: str, tier: str | None = None, role: str | None = None) -> Principal | None:
        """Changes a user's tier and/or role (it holds from their next request); None if no such user."""
        async with self._sessions.begin() as session:
            user = (await session.execute(
                select(User).where((User.name == name_or_id) | (User.id == name_or_id))
            )).scalar_one_or_none()
            if user is None:
                return None
            if tier is not None:
                user.tier = tier
            if role is not None:
                user.role = role
        return _principal(user)

    async def revoke(self, name_or_id: str) -> int:
        """Revoke every active key of a user; returns how many were revoked."""
        async with self._sessions.begin() as session:
            user = (await session.execute(
                select(User).where((User.name == name_or_id) | (User.id == name_or_id))
            )).scalar_one_or_none()
            if user is None:
                return 0
            result = await session.execute(
                update(ApiKey).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    async def local_user(self, tier: str) -> Principal:
        """The one user every request acts as when auth is off."""
        async with self._sessions.begin() as session:
            user = (await session.execute(select(User).where(User.name == LOCAL_USER))).scalar_one_or_none()
            if user is None:
                user = User(name=LOCAL_USER, tier=tier, role="admin")
                session.add(user)
        return _principal(user)
