"""Moved to tests/helpers/redis.py; this name stays while tests/test_key_cache.py still imports it."""

from tests.helpers.redis import own_redis

__all__ = ["own_redis"]
