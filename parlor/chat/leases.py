"""Which replica runs a thread's turn: a lease in Redis, taken atomically (SET NX) before anything is
planned, renewed by its holder while the run lasts, given back when it ends. Two replicas that get
the same message at once cannot both generate: the loser sees the holder's client id, and attaches
(the same message) or answers `409 thread_busy` (another one). A holder that dies (SIGKILL, OOM, a
lost node) stops renewing, so its lease lapses within LEASE_SECONDS and the thread is free again.

Only the holder may renew or give back a lease: its value starts with a token of its own, checked by
a script, so a replica that stalled past its lease cannot delete the next holder's."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

import redis.asyncio as aioredis

from parlor.redis_client import REDIS_DOWN
from parlor.redis_keys import RedisKeys

log = logging.getLogger(__name__)
LEASE_SECONDS = 10.0  # how long a dead holder keeps a thread: the crash-recovery time
Key = tuple[str, str]  # (user id, thread id)

# Taken, or the holder's value said, in one step (keys do not expire while a script runs).
_CLAIM = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return '' end
return redis.call('get', KEYS[1])
"""
# Compare-and-act on the lease's value: the holder's own token, then its client id.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


@dataclass(frozen=True, slots=True)
class Claim:
    """The answer to a claim: won (`lease` is what this replica holds; "" when nothing is held in
    Redis, as without it or while it is down), or taken by the run of client id `holder`."""

    key: Key
    lease: str = ""
    holder: str | None = None

    @property
    def won(self) -> bool:
        return self.holder is None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _holder(value: bytes | str) -> str:
    return _text(value).partition(" ")[2]


def run_id(lease: bytes | str) -> str:
    """The id of the run a lease's value belongs to (its token): it names the run's copy."""
    return _text(lease).partition(" ")[0]


class Leases:
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys, seconds: float = LEASE_SECONDS):
        self._redis = redis
        self._keys = keys
        self._ms = int(seconds * 1000)
        self._renew_every = seconds / 3  # so that two missed renewals still hold
        self._claim = redis.register_script(_CLAIM)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._held: dict[Key, str] = {}  # leases this process holds: renewed until given back
        self._renewer: asyncio.Task[None] | None = None

    def _key(self, key: Key) -> str:
        return self._keys.run_active(*key)

    async def claim(self, key: Key, client_id: str) -> Claim:
        """Takes the thread for the run of `client_id`, or says whose run has it. Without Redis the claim
        is won: this replica alone decides (its own registry still refuses a second run)."""
        value = f"{uuid.uuid4().hex} {client_id}"
        try:
            holder = await self._claim(keys=[self._key(key)], args=[value, self._ms])
            if holder:
                return Claim(key, holder=_holder(holder))
        except REDIS_DOWN as exc:
            log.warning("cannot claim thread %s across replicas: %s", key[1], exc)
            return Claim(key)
        self._held[key] = value
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_while_held(), name="lease-renewer")
        return Claim(key, value)

    async def release(self, claim: Claim) -> None:
        """Gives the thread back (only if the lease is still this claim's)."""
        if not claim.lease or self._held.get(claim.key) != claim.lease:
            return
        del self._held[claim.key]
        try:
            await self._release(keys=[self._key(claim.key)], args=[claim.lease])
        except REDIS_DOWN as exc:  # it lapses on its own within the lease
            log.warning("could not give back thread %s: %s", claim.key[1], exc)

    async def running(self, keys: list[Key]) -> set[Key]:
        """Which of these threads some replica holds right now (all of them, if Redis cannot say:
        nothing is repaired on a guess)."""
        if not keys:
            return set()
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.exists(self._key(key))
                found = await pipe.execute()
        except REDIS_DOWN as exc:
            log.warning("cannot see which threads other replicas run: %s", exc)
            return set(keys)
        return {key for key, exists in zip(keys, found, strict=True) if exists}

    async def _renew_while_held(self) -> None:
        while self._held:
            await asyncio.sleep(self._renew_every)
            held = list(self._held.items())
            try:  # at once, not pipelined: a cluster runs no script in a pipeline (and the keys' slots differ)
                renewed = await asyncio.gather(*(self._renew(keys=[self._key(key)], args=[value, self._ms])
                                                 for key, value in held))
            except REDIS_DOWN as exc:
                log.warning("could not renew the leases of %d runs: %s", len(held), exc)
                continue
            for (key, value), ok in zip(held, renewed, strict=True):
                if not ok and self._held.get(key) == value:
                    log.warning("the lease of thread %s lapsed: another replica may take it", key[1])
