"""Users, their API keys (hashed, revocable, optionally expiring) and their sign-ins at OIDC issuers."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.accounts.key_cache import KeyChanges
from parlor.accounts.keys import (
    KEY_PREFIX,
    SHOWN_PREFIX,
    KeyExpired,
    KeyInfo,
    aware,
    hash_key,
    new_key,
    same_hash,
)
from parlor.accounts.principal import Principal
from parlor.db import ApiKey, Identity, User, utcnow
from parlor.db.models import Group, GroupMember

log = logging.getLogger(__name__)
LOCAL_USER = "local"
LAST_USED_EVERY = timedelta(hours=1)  # a key's `last_used_at` is written at most this often
MAX_ACTIVE_KEYS = 100  # per user: a script that mints keys in a loop stops here


@dataclass(frozen=True, slots=True)
class NewUser:
    principal: Principal
    api_key: str
    created_at: datetime


class UserExists(Exception):
    pass


class TooManyKeys(Exception):
    pass


def _principal(user: User, group_tier: str | None = None) -> Principal:
    return Principal(id=user.id, name=user.name, tier=group_tier or user.tier, role=user.role)


def _group_tier() -> Any:
    """The tier the user's groups give them: that of the first group by name that has one (none: their own).
    Read with the key, so a membership change holds once the key cache forgets the user (announced)."""
    return (select(Group.tier).join(GroupMember, GroupMember.group_id == Group.id)
            .where(GroupMember.user_id == User.id, Group.tier.is_not(None))
            .order_by(Group.name).limit(1).correlate(User).scalar_subquery())


def _info(key: ApiKey) -> KeyInfo:
    return KeyInfo(key.id, key.user_id, key.name, key.prefix, key.created_at, key.expires_at, key.revoked_at,
                   key.last_used_at)


def _named(name_or_id: str) -> ColumnElement[bool]:
    return or_(User.name == name_or_id, User.id == name_or_id)


class AccountStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], key_cache_seconds: float = 0.0,
                 changes: KeyChanges | None = None):
        """`changes`: the process's key cache and its news of changes, shared with everything else in the
        process that changes keys (account deletion); by default a cache of this store's own."""
        self._sessions = sessions
        self._cache_seconds = key_cache_seconds  # 0: every request asks the database
        self.changes = changes or KeyChanges()  # tells every process's key cache of a change
        self._keys = self.changes.cache

    async def create_user(self, name: str, tier: str, role: str = "user",
                          expires_at: datetime | None = None) -> NewUser:
        """The user and their first key (returned in clear this once)."""
        key = new_key()
        user = User(name=name, tier=tier, role=role)
        try:
            async with self._sessions.begin() as session:
                session.add(user)
                await session.flush()
                session.add(_key_row(user.id, key, "first key", expires_at))
        except IntegrityError:
            raise UserExists(f"a user named {name!r} already exists") from None
        return NewUser(_principal(user), key, user.created_at)

    async def create_key(self, user_id: str, name: str | None = None,
                         expires_at: datetime | None = None) -> tuple[KeyInfo, str]:
        """A new key of the user's: its description, and the key itself (shown once, stored hashed)."""
        key = new_key()
        async with self._sessions.begin() as session:
            active = (await session.execute(select(func.count()).select_from(ApiKey).where(
                ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None)))).scalar_one()
            if active >= MAX_ACTIVE_KEYS:
                raise TooManyKeys(f"at most {MAX_ACTIVE_KEYS} active keys; revoke one first")
            row = _key_row(user_id, key, name, expires_at)
            session.add(row)
        return _info(row), key

    async def list_keys(self, user_id: str) -> list[KeyInfo]:
        async with self._sessions() as session:
            rows = (await session.execute(select(ApiKey).where(ApiKey.user_id == user_id)
                                          .order_by(ApiKey.created_at, ApiKey.id))).scalars()
            return [_info(k) for k in rows]

    async def key_id(self, user_id: str, digest: str) -> str | None:
        """The id of the user's key with this hash (to mark the key a request came with)."""
        async with self._sessions() as session:
            return (await session.execute(select(ApiKey.id).where(
                ApiKey.user_id == user_id, ApiKey.key_hash == digest))).scalar_one_or_none()

    async def revoke_key(self, user_id: str, key_id: str) -> bool:
        """Revokes one of the user's own keys; False if they have no such active key."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
                .values(revoked_at=utcnow()))
            revoked = bool(result.rowcount)  # type: ignore[attr-defined]
        await self.changes.announce(user_id)
        return revoked

    async def authenticate(self, key: str) -> Principal | None:
        """The key's user; None for an unknown or revoked key; KeyExpired for an expired one."""
        if not key.startswith(KEY_PREFIX):
            return None  # cheap rejection: not even shaped like a key
        digest = hash_key(key)
        cached = self._keys.get(digest, self._cache_seconds) if self._cache_seconds > 0 else None
        if cached is not None:
            return _unexpired(*cached)
        read_at = self._keys.generation
        query = (select(User, _group_tier().label("group_tier"), ApiKey.id, ApiKey.key_hash, ApiKey.expires_at,
                        ApiKey.last_used_at)
                 .join(ApiKey, ApiKey.user_id == User.id)
                 .where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None)))
        async with self._sessions() as session:
            found = (await session.execute(query)).one_or_none()
        if found is None or not same_hash(found.key_hash, digest):
            return None
        principal = _principal(found.User, found.group_tier)
        expires_at = aware(found.expires_at) if found.expires_at else None
        if self._cache_seconds > 0:
            self._keys.put(digest, principal, expires_at, read_at)
        principal = _unexpired(principal, expires_at)
        now = utcnow()
        if found.last_used_at is None or aware(found.last_used_at) <= now - LAST_USED_EVERY:
            await self._mark_used(found.id, now)  # compared with the row just read: no write on most requests
        return principal

    async def _mark_used(self, key_id: str, now: datetime) -> None:
        """Records that the key was used; the condition makes concurrent requests and replicas write it once."""
        stale = or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - LAST_USED_EVERY)
        try:
            async with self._sessions.begin() as session:
                await session.execute(update(ApiKey).where(ApiKey.id == key_id, stale).values(last_used_at=now))
        except SQLAlchemyError as exc:  # a bookkeeping write never fails the request
            log.warning("could not record the use of key %s: %s", key_id, exc)

    async def find_user(self, name_or_id: str) -> Principal | None:
        async with self._sessions() as session:
            user = (await session.execute(select(User).where(_named(name_or_id)))).scalar_one_or_none()
        return _principal(user) if user else None

    async def list_users(self) -> list[Principal]:
        async with self._sessions() as session:
            users = (await session.execute(select(User).order_by(User.created_at))).scalars()
            return [_principal(u) for u in users]

    async def update_user(self, name_or_id: str, tier: str | None = None, role: str | None = None) -> Principal | None:
        """Changes a user's tier and/or role (it holds from their next request); None if no such user."""
        async with self._sessions.begin() as session:
            user = (await session.execute(select(User).where(_named(name_or_id)))).scalar_one_or_none()
            if user is None:
                return None
            if tier is not None:
                user.tier = tier
            if role is not None:
                user.role = role
        await self.changes.announce(user.id)
        return _principal(user)

    async def revoke(self, name_or_id: str) -> int:
        """Revoke every active key of a user; returns how many were revoked."""
        async with self._sessions.begin() as session:
            user = (await session.execute(select(User).where(_named(name_or_id)))).scalar_one_or_none()
            if user is None:
                return 0
            result = await session.execute(
                update(ApiKey).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        await self.changes.announce(user.id)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def sign_in(self, issuer: str, subject: str, email: str | None, name_hint: str, tier: str,
                      expires_at: datetime | None) -> NewUser:
        """The user signed in at `issuer` as `subject` (created on their first sign-in), with a new key."""
        async with self._sessions.begin() as session:
            user = (await session.execute(select(User).join(Identity, Identity.user_id == User.id).where(
                Identity.issuer == issuer, Identity.subject == subject))).scalar_one_or_none()
            if user is None:
                user = User(name=await _free_name(session, name_hint), tier=tier, role="user")
                session.add(user)
                await session.flush()
                session.add(Identity(user_id=user.id, issuer=issuer, subject=subject, email=email))
            key = new_key()
            session.add(_key_row(user.id, key, "single sign-on", expires_at))
        return NewUser(_principal(user), key, user.created_at)

    async def local_user(self, tier: str) -> Principal:
        """The one user every request acts as when auth is off, on `tier`: created on first use, and moved
        to it if an older start-up made it on another (earlier versions gave it the default tier)."""
        async with self._sessions.begin() as session:
            user = (await session.execute(select(User).where(User.name == LOCAL_USER))).scalar_one_or_none()
            if user is None:
                user = User(name=LOCAL_USER, tier=tier, role="admin")
                session.add(user)
            elif user.tier != tier:
                log.info("the local user moves from the %r tier to %r", user.tier, tier)
                user.tier = tier
        return _principal(user)


def _unexpired(principal: Principal, expires_at: datetime | None) -> Principal:
    if expires_at is not None and expires_at <= utcnow():
        raise KeyExpired(expires_at)
    return principal


def _key_row(user_id: str, key: str, name: str | None, expires_at: datetime | None) -> ApiKey:
    return ApiKey(user_id=user_id, key_hash=hash_key(key), prefix=key[:SHOWN_PREFIX], name=name,
                  expires_at=expires_at)


async def _free_name(session: AsyncSession, hint: str) -> str:
    """`hint`, or `hint-1a2b` when a user already has that name (names are unique; people are not)."""
    base = "".join(ch for ch in hint if ch.isprintable()).strip()[:180] or "user"
    name = base
    while (await session.execute(select(User.id).where(User.name == name))).first() is not None:
        name = f"{base}-{secrets.token_hex(2)}"
    return name
