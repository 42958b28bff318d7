"""The `parlor` command: serve, migrate, users, chat."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx
import orjson
import redis.asyncio as aioredis
from httpx_sse import aconnect_sse

from parlor.accounts import AccountStore, UserExists, parse_duration
from parlor.accounts.key_cache import KeyChanges
from parlor.config import Settings, SettingsError, load_settings
from parlor.db import create_engine, migrate, session_factory

T = TypeVar("T")


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def main() -> None:
    """Parlor: a self-hostable AI chat server."""


@main.command()
@click.option("--host", help="Address to bind (default: PARLOR_HOST or 127.0.0.1).")
@click.option("--port", type=int, help="Port to bind (default: PARLOR_PORT or 8000).")
@click.option("--workers", type=click.IntRange(1, 64), default=lambda: int(os.environ.get("PARLOR_WORKERS", "1")),
              help="Server processes sharing the port (default: PARLOR_WORKERS or 1); more than one needs Redis.")
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Run the API and web UI server."""
    import uvicorn

    settings = _settings(host=host, port=port)
    if workers > 1 and not settings.redis_url:  # runs, limits and stops are shared through Redis only
        raise click.ClickException("--workers above 1 needs PARLOR_REDIS_URL (distributed mode)")
    providers = ", ".join(f"{p.name} ({p.kind}, {p.model})" for p in settings.providers)
    click.echo(f"Parlor listening on http://{settings.host}:{settings.port} — {settings.mode} mode, "
               f"auth {settings.auth}, {workers} worker(s), providers: {providers}", err=True)
    options: dict[str, Any] = {"host": settings.host, "port": settings.port, "log_level": "warning",
                               "timeout_graceful_shutdown": int(settings.drain_seconds) + 5, "lifespan": "on",
                               "loop": "uvloop", "http": "httptools", "backlog": 4096}
    # X-Forwarded-For/-Proto believed from PARLOR_TRUSTED_PROXIES only (uvicorn's default trusts 127.0.0.1)
    options.update(proxy_headers=bool(settings.trusted_proxies),
                   forwarded_allow_ips=",".join(settings.trusted_proxies) or None)
    if workers == 1:
        _configure_logging(settings)
        uvicorn.run(_create_app(settings), **options)
        return
    os.environ.update(PARLOR_HOST=settings.host, PARLOR_PORT=str(settings.port))  # the workers read them
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:  # one /metrics summing every worker
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="parlor-metrics-")
    # A worker busy under overload answers uvicorn's 5 s health ping late: killing it would drop every
    # stream it holds, so the supervisor waits longer.
    uvicorn.run("parlor.cli:worker_app", factory=True, workers=workers, timeout_worker_healthcheck=60, **options)


def _create_app(settings: Settings) -> Any:
    from parlor.app import create_app

    return create_app(settings)


def worker_app() -> Any:
    """The app of one `serve --workers` process (uvicorn imports this in each)."""
    settings = _settings()
    _configure_logging(settings)
    return _create_app(settings)


def _configure_logging(settings: Settings) -> None:
    """JSON lines in distributed mode, a console format in embedded mode (PARLOR_LOG_FORMAT overrides);
    secrets masked on every line (the admin and metrics tokens, the providers' keys, any API key)."""
    from parlor.observability import configure_logging

    fmt = settings.log_format if settings.log_format != "auto" else (
        "console" if settings.mode == "embedded" else "json")
    secrets = [s.get_secret_value() for s in (settings.admin_token, settings.metrics_token,
                                              settings.oidc_client_secret) if s is not None]
    secrets += [p.api_key.get_secret_value() for p in settings.providers if p.api_key is not None]
    secrets += [settings.embedding_api_key.get_secret_value()] if settings.embedding_api_key else []
    secrets += [_password(url) for url in (settings.database_url, settings.redis_url, settings.vector_url) if url]
    configure_logging(settings.log_level, fmt, secrets, settings.log_content)


def _password(url: str) -> str:
    """The password in a database or Redis URL ("" when none): masked in logs like the tokens."""
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password or ""
    except ValueError:
        return ""


@main.command("migrate")
def migrate_command() -> None:
    """Bring the database to the newest schema."""
    settings = _settings()
    asyncio.run(migrate(settings.database_url))
    click.echo("database is up to date")


@main.command()
@click.option("--concurrency", type=int, help="Jobs run at once (default: PARLOR_JOBS_CONCURRENCY or 1).")
def worker(concurrency: int | None) -> None:
    """Run background jobs (document ingestion) from the Redis queue, until SIGTERM."""
    from parlor.rag.worker import run_worker

    settings = _settings(jobs_concurrency=concurrency)
    if not settings.redis_url:
        raise click.ClickException("parlor worker reads its jobs from Redis: set PARLOR_REDIS_URL")
    _configure_logging(settings)
    metrics = (f", metrics on http://{settings.host}:{settings.worker_metrics_port}/metrics"
               if settings.worker_metrics_port is not None else "")
    click.echo(f"Parlor worker: jobs from {settings.jobs_queue} on Redis, {settings.jobs_concurrency} at once"
               f"{metrics}", err=True)
    asyncio.run(run_worker(settings))


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", "user", required=True, help="The owner: a user name or id.")
@click.option("--thread", help="Scope the documents to this thread (default: the user's library).")
def ingest(files: tuple[Path, ...], user: str, thread: str | None) -> None:
    """Add FILES to USER's knowledge base (waits for them in embedded mode)."""
    from parlor.rag.worker import ingest_files

    settings = _settings()
    try:
        failed = asyncio.run(ingest_files(settings, user, list(files), thread, click.echo))
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    if failed:
        raise click.ClickException(f"{failed} document(s) failed")


@main.group()
def users() -> None:
    """Create, list, re-tier and revoke users."""


def _with_accounts(action: Callable[[AccountStore, Settings], Awaitable[T]]) -> T:
    settings = _settings()

    async def run() -> T:
        if settings.embedded:
            await migrate(settings.database_url)
        engine = create_engine(settings.database_url, pool_size=1)
        changes = _key_changes(settings)
        try:
            return await action(AccountStore(session_factory(engine), changes=changes), settings)
        finally:
            await changes.aclose()
            await engine.dispose()

    return asyncio.run(run())


def _key_changes(settings: Settings) -> KeyChanges:
    """What the running servers must hear of a change made here (revocation, tier, deletion): over Redis."""
    redis = aioredis.Redis.from_url(settings.redis_url) if settings.redis_url else None
    return KeyChanges(redis, settings.limits_key_prefix)


@users.command("create")
@click.argument("name")
@click.option("--tier", help="The user's tier (default: PARLOR_DEFAULT_TIER).")
@click.option("--admin", is_flag=True, help="Make the user an admin.")
@click.option("--expires-in", "expires_in", help="The key expires after this long: 30d, 12h, 2w (default: never).")
def users_create(name: str, tier: str | None, admin: bool, expires_in: str | None) -> None:
    """Create a user and print its API key (shown this once)."""
    expires_at = _expiry(expires_in)

    async def create(accounts: AccountStore, settings: Settings) -> str:
        try:
            created = await accounts.create_user(name, tier or settings.default_tier, "admin" if admin else "user",
                                                 expires_at)
        except UserExists as exc:
            raise click.ClickException(str(exc)) from None
        return created.api_key

    key = _with_accounts(create)
    until = f", valid until {expires_at.isoformat(timespec='seconds')}" if expires_at else ""
    click.echo(f"created user {name!r}; API key (shown once{until}):", err=True)
    click.echo(key)


def _expiry(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.now(UTC) + parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expires-in") from None


@users.command("list")
def users_list() -> None:
    """List users."""
    async def listing(accounts: AccountStore, _: Settings) -> None:
        for user in await accounts.list_users():
            click.echo(f"{user.id}  {user.name:<24} tier={user.tier:<8} role={user.role}")

    _with_accounts(listing)


@users.command("revoke")
@click.argument("user")
def users_revoke(user: str) -> None:
    """Revoke every API key of USER (a name or an id)."""
    async def revoke(accounts: AccountStore, _: Settings) -> int:
        return await accounts.revoke(user)

    count = _with_accounts(revoke)
    if count == 0:
        raise click.ClickException(f"no active key found for {user!r}")
    click.echo(f"revoked {count} key(s) of {user!r}")


@users.command("delete")
@click.argument("user")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def users_delete(user: str, yes: bool) -> None:
    """Delete USER (a name or an id) and everything they own: threads, messages, documents with their
    files, chunks and vectors, memories, usage, runs and keys. It cannot be undone."""
    if not yes:
        click.confirm(f"Delete {user!r} and all their data? This cannot be undone", abort=True)
    settings = _settings()
    rows = asyncio.run(_delete_user(settings, user))
    if rows is None:
        raise click.ClickException(f"no user {user!r}")
    click.echo(f"deleted {user!r}: " + ", ".join(f"{n} {table}" for table, n in sorted(rows.items())))


async def _delete_user(settings: Settings, name_or_id: str) -> dict[str, int] | None:
    from parlor.accounts.data import AccountData
    from parlor.rag.embed import embedder_from_settings
    from parlor.rag.files import LocalFiles
    from parlor.rag.knowledge import vector_store_from_settings
    from parlor.rag.repo import DocumentRepo

    if settings.embedded:
        await migrate(settings.database_url)
    engine = create_engine(settings.database_url, pool_size=1)
    sessions = session_factory(engine)
    embedder = await asyncio.to_thread(embedder_from_settings, settings)  # the store's width is the model's
    store = vector_store_from_settings(settings, embedder.dimensions)
    files, repo = LocalFiles(settings.uploads_dir), DocumentRepo(sessions)
    changes = _key_changes(settings)

    async def forget(user_id: str, document_id: str) -> bool:  # as the server's DocumentService.delete
        removed = await repo.delete(document_id, user_id)
        if removed is not None:
            await store.delete(document_id)
            await files.delete(removed.storage_key)
        return removed is not None

    try:
        await store.setup()
        found = await AccountStore(sessions).find_user(name_or_id)
        return await AccountData(sessions, forget, changes).delete(found.id) if found else None
    finally:
        await changes.aclose()
        await store.aclose()
        if (close := getattr(embedder, "aclose", None)) is not None:
            await close()
        await engine.dispose()


@users.command("set-tier")
@click.argument("user")
@click.argument("tier")
def users_set_tier(user: str, tier: str) -> None:
    """Move USER (a name or an id) to TIER, one of PARLOR_TIERS; it holds from their next request."""
    async def set_tier(accounts: AccountStore, settings: Settings) -> bool:
        if tier not in settings.tiers:
            raise click.ClickException(f"no tier {tier!r}; the tiers are: {', '.join(settings.tiers)}")
        return await accounts.update_user(user, tier=tier) is not None

    if not _with_accounts(set_tier):
        raise click.ClickException(f"no user {user!r}")
    click.echo(f"{user!r} is now on the {tier!r} tier")


@main.group()
def experiments() -> None:
    """A/B tests of prompts, models and tools (set them with PUT /api/admin/experiments/NAME)."""


@experiments.command("report")
@click.argument("name")
@click.option("--since", help="Only turns since then: an ISO time or a span back from now (15m, 6h, 7d).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (as GET /api/admin/experiments/NAME/results).")
def experiments_report(name: str, since: str | None, as_json: bool) -> None:
    """How each variant of experiment NAME did: users, turns, thumbs up, stops, regenerations, TTFT, cost."""
    from parlor.experiments import ExperimentResults, ExperimentStore, table
    from parlor.experiments.results import parse_since
    from parlor.experiments.service import report

    try:
        start = parse_since(since)
    except ValueError:
        raise click.BadParameter("an ISO 8601 time or a span like 15m, 6h, 7d", param_hint="--since") from None

    settings = _settings()

    async def read() -> Any:
        engine = create_engine(settings.database_url, pool_size=1)
        try:
            sessions = session_factory(engine)
            return await report(ExperimentStore(sessions), ExperimentResults(sessions), name, start)
        finally:
            await engine.dispose()

    results = asyncio.run(read())
    if results is None:
        raise click.ClickException(f"no experiment {name!r}")
    if as_json:
        click.echo(orjson.dumps({"experiment": name, "since": since, "variants": [r.as_json() for r in results]},
                                option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(f"experiment {name}" + (f", since {since}" if since else ""))
        click.echo(table(results))


@main.command()
@click.argument("message", required=False)
@click.option("--url", default=lambda: os.environ.get("PARLOR_URL", "http://127.0.0.1:8000"), show_default=True)
@click.option("--key", default=lambda: os.environ.get("PARLOR_API_KEY"), help="API key (or PARLOR_API_KEY).")
@click.option("--thread", help="Continue this thread id (default: a new thread).")
def chat(message: str | None, url: str, key: str | None, thread: str | None) -> None:
    """Chat from the terminal: streams each reply. Without MESSAGE, reads lines until EOF."""
    thread_id = thread or uuid.uuid4().hex
    lines = [message] if message else (line.rstrip("\n") for line in sys.stdin)
    for line in lines:
        if line.strip():
            asyncio.run(_stream_reply(url, key, thread_id, line))
    click.echo(f"(thread {thread_id})", err=True)


async def _stream_reply(url: str, key: str | None, thread_id: str, text: str) -> None:
    body = {"id": thread_id, "trigger": "submit-message",
            "messages": [{"id": uuid.uuid4().hex, "role": "user", "parts": [{"type": "text", "text": text}]}]}
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    timeout = httpx.Timeout(300, connect=5)
    async with (
        httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout) as client,
        aconnect_sse(client, "POST", "/api/chat", json=body) as source,
    ):
        if source.response.status_code != 200:
            await source.response.aread()
            raise click.ClickException(f"{source.response.status_code}: {source.response.text}")
        async for event in source.aiter_sse():
            if event.data == "[DONE]":
                break
            chunk = orjson.loads(event.data)
            if chunk["type"] == "text-delta":
                click.echo(chunk["delta"], nl=False)
            elif chunk["type"] == "error":
                click.echo(f"\n[error] {chunk['errorText']}", err=True)
    click.echo()
