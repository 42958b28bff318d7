"""API keys: random 256-bit secrets, stored as their SHA-256 only.

A key has 256 bits of entropy, so a fast unsalted hash is as strong as a slow one here (nothing to
brute-force) and lets lookup be one indexed equality. The check compares hashes, never the key, so
its timing tells an attacker nothing about any key."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

KEY_PREFIX = "pk-"
SHOWN_PREFIX = 10  # "pk-" and 7 characters: enough to tell keys apart in a list, useless to an attacker
_DURATION = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class KeyExpired(Exception):
    """A real key whose time is up: the caller is told so (401 key_expired), not just "invalid"."""

    def __init__(self, expired_at: datetime):
        super().__init__(f"this API key expired at {expired_at.isoformat(timespec='seconds')}")
        self.expired_at = expired_at


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What may be shown about a key after its creation: never the key, never its hash."""

    id: str
    user_id: str
    name: str | None
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = None  # to the hour (see LAST_USED_EVERY)

    def json(self) -> dict[str, str | None]:
        return {"id": self.id, "name": self.name, "prefix": self.prefix, "created_at": iso(self.created_at),
                "expires_at": iso(self.expires_at), "revoked_at": iso(self.revoked_at),
                "last_used_at": iso(self.last_used_at)}


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything Parlor stores is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment: datetime | None) -> str | None:
    return aware(moment).isoformat() if moment is not None else None


def parse_duration(text: str) -> timedelta:
    """'30d', '12h', '90m', '2w', '45s' → a timedelta; ValueError with a readable message otherwise."""
    match = _DURATION.match(text)
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration like 30d, 12h, 90m or 2w")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
