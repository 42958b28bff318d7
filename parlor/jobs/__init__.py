"""Background jobs: a Redis-backed queue run by `parlor worker` (distributed) or an in-process queue
(embedded), the same job runner with retries for both, and progress events."""

from parlor.jobs.progress import LocalBus, ProgressBus, RedisBus
from parlor.jobs.queue import JobQueue, LocalQueue
from parlor.jobs.runner import JobRunner, PermanentError

__all__ = ["JobQueue", "JobRunner", "LocalBus", "LocalQueue", "PermanentError", "ProgressBus", "RedisBus"]
