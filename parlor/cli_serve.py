"""Running `parlor serve` and `parlor worker`: the checks that turn a wrong first step into one line, the
server's processes, and the line that says the server is up — printed only once it answers."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import httpx
from sqlalchemy.exc import SQLAlchemyError

from parlor.config import Settings, load_settings
from parlor.db import schema, shown_url

WORKER_APP = "parlor.cli_serve:worker_app"


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """A database that refuses (down, no such database, wrong password) as one line naming it (password
    masked), not a traceback."""
    try:
        yield
    except (OSError, SQLAlchemyError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        unreachable = isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError)  # TLS refused: no hint
        hint = " (is PostgreSQL running there?)" if unreachable else ""
        raise click.ClickException(f"database {shown_url(url)}: {reason}{hint}") from None


def check_database(settings: Settings) -> None:
    """PostgreSQL must be reachable and migrated before a process starts on it (an embedded database
    migrates itself): said in one line, before the model loads, instead of a traceback after."""
    if settings.embedded:
        return
    with database_errors(settings.database_url):
        at = asyncio.run(schema.current(settings.database_url))
    where = f"the database {shown_url(settings.database_url)} schema is at {at or 'none (empty)'}"
    if at and not schema.known(at):  # rolled back past a release that migrated it
        raise click.ClickException(f"{where}, newer than this release ({schema.head()}) knows: run that release")
    if at != schema.head():  # an API started before the migrate Job has ended says so and stops
        raise click.ClickException(f"{where}, this release needs {schema.head()}: run `parlor migrate`")


def serve(settings: Settings, workers: int) -> None:
    """Serves until stopped: one process, or a supervisor and `workers` processes sharing one port."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    if workers > 1 and not settings.redis_url:  # runs, limits and stops are shared through Redis only
        raise click.ClickException("--workers above 1 needs PARLOR_REDIS_URL (distributed mode)")
    check_database(settings)
    listener = _bind(settings.host, settings.port)
    providers = ", ".join(f"{p.name} ({p.kind}, {p.model})" for p in settings.providers)
    click.echo(f"Parlor starting: {settings.mode} mode, auth {settings.auth}, {workers} worker(s), "
               f"providers: {providers}", err=True)
    _announce_when_answering(settings.host, listener.getsockname()[1])
    options = _options(settings)
    if workers == 1:
        configure_logging(settings)
        uvicorn.Server(uvicorn.Config(_create_app(settings), **options)).run(sockets=[listener])
        return
    os.environ.update(PARLOR_HOST=settings.host, PARLOR_PORT=str(settings.port))  # the workers read them
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:  # one /metrics summing every worker
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="parlor-metrics-")
    # A worker busy under overload answers uvicorn's 5 s health ping late: killing it would drop every
    # stream it holds, so the supervisor waits longer.
    config = uvicorn.Config(WORKER_APP, factory=True, workers=workers, timeout_worker_healthcheck=60, **options)
    Multiprocess(config, sockets=[listener]).run()


def _options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {"host": settings.host, "port": settings.port, "log_level": "warning",
                               "timeout_graceful_shutdown": int(settings.drain_seconds) + 5, "lifespan": "on",
                               "loop": "uvloop", "http": "httptools", "backlog": 4096}
    # X-Forwarded-For/-Proto believed from PARLOR_TRUSTED_PROXIES only (uvicorn's default trusts 127.0.0.1)
    options.update(proxy_headers=bool(settings.trusted_proxies),
                   forwarded_allow_ips=",".join(settings.trusted_proxies) or None)
    return options


def _bind(host: str, port: int) -> socket.socket:
    """The server's socket, bound before start-up: a port in use is said at once, not after the model has
    loaded, and from here on the port is this process's, so whatever answers on it is this server."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        hint = " (another server?): stop it or pass --port" if exc.errno == errno.EADDRINUSE else ""
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}{hint}") from None
    listener.set_inheritable(True)  # the --workers processes serve it
    return listener


def _announce_when_answering(host: str, port: int) -> None:
    """Prints "listening on …" once GET /healthz answers. The socket accepts nothing until the app's
    start-up (migrations, the local model's load) is done, so an earlier line would send people to a
    refused connection."""
    url = f"http://{_url_host(host)}:{port}"
    probe = f"http://{_url_host({'0.0.0.0': '127.0.0.1', '::': '::1'}.get(host, host))}:{port}/healthz"

    def wait() -> None:
        while True:
            try:
                if httpx.get(probe, timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        click.echo(f"Parlor listening on {url}", err=True)

    threading.Thread(target=wait, name="announce", daemon=True).start()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _create_app(settings: Settings) -> Any:
    from parlor.app import create_app

    return create_app(settings)


def worker_app() -> Any:
    """The app of one `serve --workers` process (uvicorn imports this in each)."""
    settings = load_settings()
    configure_logging(settings)
    return _create_app(settings)


def configure_logging(settings: Settings) -> None:
    """JSON lines in distributed mode, a console format in embedded mode (PARLOR_LOG_FORMAT overrides);
    secrets masked on every line (the admin and metrics tokens, the providers' keys, any API key)."""
    from parlor.observability import configure_logging as configure

    fmt = settings.log_format if settings.log_format != "auto" else (
        "console" if settings.mode == "embedded" else "json")
    secrets = [s.get_secret_value() for s in (settings.admin_token, settings.metrics_token,
                                              settings.oidc_client_secret) if s is not None]
    secrets += [p.api_key.get_secret_value() for p in settings.providers if p.api_key is not None]
    secrets += [settings.embedding_api_key.get_secret_value()] if settings.embedding_api_key else []
    secrets += [_password(url) for url in (settings.database_url, settings.redis_url, settings.vector_url) if url]
    configure(settings.log_level, fmt, secrets, settings.log_content)


def _password(url: str) -> str:
    """The password in a database or Redis URL ("" when none): masked in logs like the tokens."""
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password or ""
    except ValueError:
        return ""
