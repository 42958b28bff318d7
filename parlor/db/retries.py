"""Writes that must not be lost to a database restart or a busy pool: retried, not dropped."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

WRITE_ATTEMPTS = 3  # a write is tried at least this often, however long each try waited


async def with_retries(write: Callable[[], Awaitable[None]], seconds: float = 30.0) -> None:
    """A write retried with jittered backoff for up to `seconds`, and at least three times: a database
    that restarts mid-turn, or a pool with no free connection for a while (overload), delays the write,
    it does not lose it."""
    retrying = AsyncRetrying(stop=stop_after_delay(seconds) & stop_after_attempt(WRITE_ATTEMPTS),
                             wait=wait_random_exponential(multiplier=0.2, max=2),
                             retry=retry_if_exception_type((DBAPIError, PoolTimeout, OSError)), reraise=True)
    async for attempt in retrying:
        with attempt:
            await write()
