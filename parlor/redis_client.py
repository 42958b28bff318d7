"""Every Redis client Parlor opens, made from PARLOR_REDIS_URL in this one place. The URL names one of three
deployments (README, "Redis"):

- `redis://host:port/db` or `rediss://...` (TLS; `?ssl_ca_certs=/path/ca.pem` to trust a private CA): one server;
- `redis+cluster://host:port,host:port` (or `rediss+cluster://`): a Redis Cluster, found from any of its nodes;
- `redis+sentinel://[:password@]host:port,host:port/service[/db][?sentinel_password=…]` (or
  `rediss+sentinel://`): the master that these Sentinels name `service`, followed through failovers; the
  URL's user and password are the master's, `sentinel_username`/`sentinel_password` the Sentinels' own.

A cluster client is typed as `Redis`: it speaks the same commands, routed by key. What that asks of callers:
a script's or a transaction's keys share one hash tag (parlor/redis_keys.py), and errors may also be
`RedisClusterException` (not a RedisError): catch `REDIS_DOWN`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, ClusterPubSub, RedisCluster
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff
from redis.exceptions import RedisClusterException, RedisError
from redis.retry import Retry

REDIS_DOWN = (RedisError, RedisClusterException, OSError, TimeoutError)
SSL_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs", "ssl_check_hostname")
SENTINEL_OPTIONS = ("sentinel_username", "sentinel_password")  # the Sentinels' requirepass, not the master's
SCHEMES = {"redis+cluster": "cluster", "rediss+cluster": "cluster",
           "redis+sentinel": "sentinel", "rediss+sentinel": "sentinel"}


@dataclass(frozen=True, slots=True)
class Target:
    """Where a URL points: its kind, its nodes (or sentinels), the service and db, and TLS."""

    kind: str  # "cluster" or "sentinel"
    nodes: tuple[tuple[str, int], ...]
    tls: bool
    username: str | None = None
    password: str | None = None
    service: str = ""
    db: int = 0
    ssl: dict[str, str | bool] = field(default_factory=dict)
    sentinel_auth: dict[str, str] = field(default_factory=dict)  # username, password: the Sentinels' own


@dataclass(frozen=True, slots=True)
class Options:
    """How a client waits. `wait`: for a free pooled connection (None: the pool does not bound connections);
    `retries`: None keeps redis-py's default; 0 for callers that must not run a command twice."""

    max_connections: int = 100
    wait: float | None = 2.0
    socket_timeout: float | None = 2.0
    connect_timeout: float | None = 1.0
    retries: int | None = None
    health_check_interval: int = 0


def parse(url: str) -> Target | None:
    """The cluster or Sentinel a URL names; None for one server (redis://, rediss://, unix://). Raises
    ValueError, naming what is wrong, for anything else."""
    parts = urlsplit(url)
    kind = SCHEMES.get(parts.scheme)
    if kind is None:
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"{parts.scheme or url!r} is not a Redis URL scheme: redis://, rediss://, "
                             "redis+cluster://, redis+sentinel:// (README, Redis URLs)")
        return None
    auth, _, hosts = parts.netloc.rpartition("@")
    username, _, password = auth.partition(":") if auth else ("", "", "")
    nodes = tuple(_node(item) for item in hosts.split(",") if item)
    if not nodes:
        raise ValueError(f"{parts.scheme}:// names no host:port")
    path = [unquote(p) for p in parts.path.split("/") if p]
    query = dict(parse_qsl(parts.query))
    unknown = set(query) - set(SSL_OPTIONS) - set(SENTINEL_OPTIONS if kind == "sentinel" else ())
    if unknown:
        raise ValueError(f"unknown Redis URL option(s): {', '.join(sorted(unknown))}")
    sentinel_auth = {k.removeprefix("sentinel_"): query.pop(k) for k in SENTINEL_OPTIONS if k in query}
    if kind == "sentinel" and not path:
        raise ValueError("redis+sentinel:// needs the master's service name: redis+sentinel://host:port/service")
    service = path.pop(0) if kind == "sentinel" else ""
    ssl: dict[str, str | bool] = {k: v.lower() in ("1", "true", "yes") if k == "ssl_check_hostname" else v
                                  for k, v in query.items()}
    return Target(kind, nodes, parts.scheme.startswith("rediss"), unquote(username) or None,
                  unquote(password) or None, service, int(path[0]) if path else 0, ssl, sentinel_auth)


def _node(item: str) -> tuple[str, int]:
    host, _, port = item.rpartition(":")
    return (host, int(port)) if host else (item, 6379)


def connect(url: str, options: Options | None = None) -> aioredis.Redis:
    """A client for `url`, owning its connections (aclose() closes them)."""
    options = options or Options()
    target = parse(url)
    if target is None:
        return _single(url, options)
    if target.kind == "cluster":
        return _cluster(target, options)
    return _sentinel(target, options)


def _connection(options: Options) -> dict[str, Any]:
    """The timeouts, and the retries when bounded (redis-py's default otherwise)."""
    retry = {"retry": Retry(NoBackoff(), options.retries)} if options.retries is not None else {}
    return {"socket_timeout": options.socket_timeout, "socket_connect_timeout": options.connect_timeout, **retry}


def _single(url: str, options: Options) -> aioredis.Redis:
    """A bounded pool that waits (briefly) for a free connection: a burst queues at Redis instead of
    opening a connection per request (docs/deploy.md sizes Redis' maxclients by it)."""
    pool_class = aioredis.BlockingConnectionPool if options.wait is not None else aioredis.ConnectionPool
    waits: dict[str, Any] = {"timeout": options.wait} if options.wait is not None else {}
    pool = pool_class.from_url(url, max_connections=options.max_connections, **waits, **_connection(options),
                               health_check_interval=options.health_check_interval)
    return aioredis.Redis.from_pool(pool)


def _tls(target: Target) -> dict[str, Any]:
    return {"ssl": True, **target.ssl} if target.tls else {}


class _ClusterPubSub(ClusterPubSub):
    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        # a subscription picks its node from the slots, which a client learns on its first command:
        # a pubsub may come first (a KeyError in redis-py otherwise)
        await self.cluster.initialize()
        return await super().execute_command(*args, **kwargs)


class _Cluster(RedisCluster):
    """A cluster client whose commands wait (up to `wait`) when `commands` are under way, as a single
    server's blocking pool does: redis-py's cluster pools fail at once when full (MaxConnectionsError),
    which a burst would take for Redis being down."""

    def __init__(self, *args: Any, commands: int, wait: float | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._commands = asyncio.Semaphore(commands)
        self._wait = wait

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.wait_for(self._commands.acquire(), self._wait)  # TimeoutError: counted as Redis down
        try:
            return await super().execute_command(*args, **kwargs)
        finally:
            self._commands.release()

    def pubsub(self, node: ClusterNode | None = None, host: str | None = None, port: int | None = None,
               **kwargs: Any) -> ClusterPubSub:
        return _ClusterPubSub(self, node=node, host=host, port=port, **kwargs)


def _cluster(target: Target, options: Options) -> aioredis.Redis:
    """`max_connections` bounds the commands under way; each node's pool has as many again for what holds
    a connection besides (subscriptions, pipelines). A MOVED or ASK reply is followed whatever `retries`
    says: the command did not run on the wrong node."""
    cluster = _Cluster(startup_nodes=[ClusterNode(host, port) for host, port in target.nodes],
                       username=target.username, password=target.password,
                       max_connections=2 * options.max_connections, commands=options.max_connections,
                       wait=options.wait, **_connection(options), **_tls(target))
    return cast(aioredis.Redis, cluster)  # same commands; see the module's docstring


class BlockingSentinelPool(SentinelConnectionPool, aioredis.BlockingConnectionPool):
    """The master's pool, bounded and waiting for a free connection like a single server's."""


def _sentinel(target: Target, options: Options) -> aioredis.Redis:
    """Sentinels are asked where the master is; a connection that finds it gone asks again. They are
    reached with their own credentials (sentinel_kwargs), the master with the URL's."""
    sentinels = Sentinel(list(target.nodes), sentinel_kwargs={  # type: ignore[no-untyped-call]
        "socket_timeout": options.socket_timeout or 2.0, "socket_connect_timeout": options.connect_timeout,
        **target.sentinel_auth, **_tls(target)})
    pool_class = BlockingSentinelPool if options.wait is not None else SentinelConnectionPool
    waits: dict[str, Any] = {"timeout": options.wait} if options.wait is not None else {}
    client: aioredis.Redis = sentinels.master_for(
        target.service, connection_pool_class=pool_class, db=target.db, username=target.username,
        password=target.password, max_connections=options.max_connections, **waits, **_connection(options),
        health_check_interval=options.health_check_interval, **_tls(target))
    return client
