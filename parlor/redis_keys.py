"""Every Redis key and channel Parlor uses, built in one place (as arq keeps its keys in one module).

A key reads `<prefix>{<entity>}:<what>`. The braces are a Redis Cluster hash tag: only the part inside
them is hashed, so all the keys of one entity (a user, a user's thread, a provider's breaker) land in
one slot. That is what lets one Lua script touch several of them on a cluster (a user's rate windows,
a breaker's state and its failures: a script's keys must share a slot), and it keeps one entity's keys
on one node. The prefix (PARLOR_REDIS_PREFIX) lets several deployments share one Redis.

Channels that belong to the whole deployment (the key changes, the stop requests) take the collection
they speak for as their entity, so that every name follows the one rule."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "parlor:"


def user_subject(user_id: str) -> str:
    """The rate limiter's subject for a user's requests (also the user's entity in keys)."""
    return f"user:{user_id}"


def address_subject(address: str) -> str:
    """The rate limiter's subject for invalid keys sent from one address."""
    return f"auth:{address}"


def visitor_subject(address: str) -> str:
    """The rate limiter's subject for signed-out reads of shared chats from one address."""
    return f"shared:{address}"


@dataclass(frozen=True, slots=True)
class RedisKeys:
    prefix: str = DEFAULT_PREFIX

    def _key(self, entity: str, what: str) -> str:
        return f"{self.prefix}{{{entity}}}:{what}"

    # limits: one sorted set per request window (one script checks all of a subject's windows at once)
    def rate_window(self, subject: str, seconds: float) -> str:
        return self._key(subject, f"rl:{seconds:g}")

    def budget(self, user_id: str, day: str) -> str:
        """A user's tokens used on `day` (an ISO date in the budget's time zone)."""
        return self._key(user_subject(user_id), f"budget:{day}")

    # a provider's circuit breaker: its state and its recent failures (one script reads and writes both)
    def breaker(self, provider: str) -> str:
        return self._key(f"breaker:{provider}", "state")

    def breaker_failures(self, provider: str) -> str:
        return self._key(f"breaker:{provider}", "failures")

    # runs, seen from every replica (parlor/chat/mirror.py)
    def run_stream(self, user_id: str, thread_id: str, run_id: str) -> str:
        """The Redis Stream of one run of a thread: what a client resumes from, on any replica. One per
        run, so a slow reader of an ended run never reads the next one's events."""
        return self._key(_thread(user_id, thread_id), f"run:{run_id}")

    def run_last(self, user_id: str, thread_id: str) -> str:
        """The id of the thread's latest run (whose copy a replay or a crash repair reads)."""
        return self._key(_thread(user_id, thread_id), "last")

    def run_active(self, user_id: str, thread_id: str) -> str:
        """Which run a thread has under way (a retried POST on another replica attaches to it)."""
        return self._key(_thread(user_id, thread_id), "active")

    def stops(self) -> str:
        """The channel carrying stop requests to the replica that generates the run."""
        return self._key("runs", "stop")

    # accounts: changed API keys, announced to every process's key cache
    def key_changes(self) -> str:
        return self._key("accounts", "key-changes")

    # jobs: a topic's progress events (a document's, while it is ingested)
    def progress(self, topic: str) -> str:
        return self._key(f"topic:{topic}", "progress")


def jobs_group(stream: str) -> str:
    """The consumer group of the job stream. The stream's name is PARLOR_JOBS_QUEUE as given: one key,
    so its slot is its own, and renaming it would strand the jobs queued before an upgrade."""
    return f"{stream}:workers"


def _thread(user_id: str, thread_id: str) -> str:
    return f"thread:{user_id}:{thread_id}"
