"""Polling until a condition holds, for state another thread, process or server changes with no event to await."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def wait_for(check: Callable[[], T | Awaitable[T]], seconds: float = 10.0, interval: float = 0.02,
                   message: str = "the condition never held") -> T:
    """Calls ``check`` (which may return an awaitable) every ``interval`` seconds until it gives a truthy value,
    and returns that value; fails the test with ``AssertionError(message)`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} (waited {seconds:g} s)")
        await asyncio.sleep(interval)


def wait_for_sync(check: Callable[[], T], seconds: float = 10.0, interval: float = 0.05,
                  message: str = "the condition never held") -> T:
    """``wait_for`` for sync tests: blocks, polling ``check`` until it gives a truthy value, and returns it."""
    deadline = time.monotonic() + seconds
    while True:
        if value := check():
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} (waited {seconds:g} s)")
        time.sleep(interval)
