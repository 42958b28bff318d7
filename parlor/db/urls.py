"""A PostgreSQL URL's query parameters, read once for every path that connects (the app's engine,
migrations, the worker, the vector store's own asyncpg pool): TLS in either spelling and whether a
connection pooler sits in front.

TLS: libpq's `sslmode` (disable, allow, prefer, require, verify-ca, verify-full) with `sslrootcert`,
`sslcert`, `sslkey`, or asyncpg's `ssl=` (a mode, or true/false). SQLAlchemy would hand `sslmode` to
asyncpg.connect as an unknown keyword; asyncpg takes a certificate file only inside its own DSN. So the
URL is stripped of them and they become one `ssl` argument: a mode asyncpg knows, or an SSLContext.

Pooler: PgBouncer in transaction mode (RDS Proxy, Supabase's and Neon's poolers, pgcat) gives each
transaction whichever server connection is free, so a statement prepared on one is missing on the next
(or, by name, is another client's statement there). `pooler=pgbouncer` turns asyncpg's statement caches
off; `auto` (the default) does so for a URL that names a pooler (port 6432, or a host such as
`*.pooler.supabase.com`, `*-pooler.*.neon.tech`, `*.proxy-*.rds.amazonaws.com`).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from sqlalchemy.engine import URL, make_url

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
POOLERS = ("auto", "pgbouncer", "none")
KNOWN = ("sslmode", "ssl", "sslrootcert", "sslcert", "sslkey", "pooler")
POOLER_PORT = 6432
POOLER_HOSTS = ("pooler", "pgbouncer", "pgcat", ".proxy-")
_BOOLEANS = {"true": "require", "1": "require", "false": "disable", "0": "disable"}


class DatabaseUrlError(ValueError):
    """A URL parameter Parlor cannot honour, said in one line."""


@dataclass(frozen=True)
class Connection:
    """What a driver needs: the URL without Parlor's parameters, and the driver's keyword arguments."""

    url: URL
    ssl: str | ssl.SSLContext | None = None
    pooled: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def asyncpg_dsn(self) -> str:
        return self.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def asyncpg_args(self) -> dict[str, Any]:
        """For asyncpg.connect/create_pool: no statement cache behind a pooler."""
        args: dict[str, Any] = {} if self.ssl is None else {"ssl": self.ssl}
        return {**args, "statement_cache_size": 0} if self.pooled else args

    def sqlalchemy_args(self) -> dict[str, Any]:
        """For SQLAlchemy's asyncpg dialect (connect_args): its own prepared-statement cache off too, and
        every statement a fresh name, so none can clash with one a pooled server connection still holds
        from another client (SQLAlchemy's docs, "Prepared Statement Name with PGBouncer")."""
        if not self.pooled:
            return self.asyncpg_args()
        return {**self.asyncpg_args(), "prepared_statement_cache_size": 0,
                "prepared_statement_name_func": _statement_name}


def _statement_name() -> str:
    return f"__asyncpg_{uuid4()}__"


def parse(url: str) -> Connection:
    """The URL's parameters read, or DatabaseUrlError naming the one that is wrong."""
    parts = make_url(url)
    query = {name: _single(name, value) for name, value in parts.query.items()}
    unknown = sorted(set(query) - set(KNOWN))
    if unknown:
        raise DatabaseUrlError(f"database URL: unknown parameter {unknown[0]!r} (known: {', '.join(KNOWN)}; "
                               "statement caches are turned off by pooler=pgbouncer)")
    return Connection(url=parts.set(query={}), ssl=_ssl(query), pooled=_pooled(parts, query.get("pooler", "auto")))


def with_pooler(url: str, pooler: str) -> str:
    """`url` saying `pooler=` (PARLOR_DATABASE_POOLER), unless it says so itself or `pooler` is auto."""
    parts = make_url(url)
    if pooler == "auto" or not url.startswith("postgresql") or "pooler" in parts.query:
        return url
    return parts.update_query_dict({"pooler": pooler}).render_as_string(hide_password=False)


def check(url: str) -> None:
    """DatabaseUrlError for a PostgreSQL URL with a parameter that is wrong (a configuration check)."""
    if url.startswith("postgresql"):
        parse(url)


def _single(name: str, value: str | tuple[str, ...]) -> str:
    if isinstance(value, tuple):
        raise DatabaseUrlError(f"database URL: parameter {name!r} is given {len(value)} times")
    return value


def _pooled(parts: URL, pooler: str) -> bool:
    if pooler not in POOLERS:
        raise DatabaseUrlError(f"database URL: pooler={pooler!r} is not one of {', '.join(POOLERS)}")
    if pooler != "auto":
        return pooler == "pgbouncer"
    host = (parts.host or "").lower()
    return parts.port == POOLER_PORT or any(marker in host for marker in POOLER_HOSTS)


def _mode(query: dict[str, str]) -> str | None:
    modes = {query.get("sslmode"), _BOOLEANS.get(query.get("ssl", "").lower(), query.get("ssl"))} - {None}
    if len(modes) > 1:
        raise DatabaseUrlError(f"database URL: sslmode and ssl disagree ({' vs '.join(sorted(map(str, modes)))})")
    mode = next(iter(modes), None)
    if mode is not None and mode not in SSL_MODES:
        raise DatabaseUrlError(f"database URL: sslmode={mode!r} is not one of {', '.join(SSL_MODES)}")
    return mode


def _ssl(query: dict[str, str]) -> str | ssl.SSLContext | None:
    """A mode asyncpg knows, or a context when a file is named: as libpq, a root certificate with
    `require` (or no mode) verifies the chain (verify-ca); verify-full also checks the host name."""
    mode = _mode(query)
    root, cert, key = query.get("sslrootcert"), query.get("sslcert"), query.get("sslkey")
    if not (root or cert):
        if key:
            raise DatabaseUrlError("database URL: sslkey needs sslcert")
        return mode
    if mode in ("disable", "allow", "prefer"):
        raise DatabaseUrlError(f"database URL: sslmode={mode} ignores certificates; use require or verify-full")
    if mode in ("verify-ca", "verify-full") or root:
        context = _verifying(root, check_hostname=mode == "verify-full")
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert:
        _load(context, cert, key)
    return context


def _verifying(root: str | None, check_hostname: bool) -> ssl.SSLContext:
    """`sslrootcert=system` (as libpq 16): the system's trusted authorities."""
    try:
        context = ssl.create_default_context(cafile=None if root in (None, "system") else root)
    except (OSError, ssl.SSLError) as exc:
        raise DatabaseUrlError(f"database URL: sslrootcert={root}: {exc}") from None
    context.check_hostname = check_hostname
    return context


def _load(context: ssl.SSLContext, cert: str, key: str | None) -> None:
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise DatabaseUrlError(f"database URL: sslcert={cert}: {exc}") from None
