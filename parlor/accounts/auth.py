"""Who a request's bearer key makes the caller: with PARLOR_AUTH=on, the key's user (or no one); with
PARLOR_AUTH=off, the one local user, whatever the request sends. Routes ask one object either way."""

from __future__ import annotations

from parlor.accounts.principal import Principal
from parlor.accounts.store import AccountStore


class KeyAuth:
    """PARLOR_AUTH=on: a request acts as its API key's user."""

    keys_required = True

    def __init__(self, accounts: AccountStore):
        self._accounts = accounts

    async def start(self) -> None:
        return None

    async def caller(self, key: str | None) -> Principal | None:
        """The key's user, or None for no key or an unknown one (raises KeyExpired for an expired key)."""
        return await self._accounts.authenticate(key) if key else None


class LocalAuth:
    """PARLOR_AUTH=off (loopback only): every request acts as the one local user, on `tier`."""

    keys_required = False

    def __init__(self, accounts: AccountStore, tier: str):
        self._accounts = accounts
        self._tier = tier
        self._user: Principal | None = None

    async def start(self) -> None:
        """Creates the local user if need be (a database write: not in the constructor)."""
        self._user = await self._accounts.local_user(self._tier)

    async def caller(self, key: str | None) -> Principal:
        assert self._user is not None, "LocalAuth.start() runs before the first request"
        return self._user


Auth = KeyAuth | LocalAuth
