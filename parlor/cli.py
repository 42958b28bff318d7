"""The `parlor` command: serve, migrate, users, chat."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx
import orjson
from httpx_sse import aconnect_sse

from parlor.accounts import AccountStore, UserExists
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
def serve(host: str | None, port: int | None) -> None:
    """Run the API and web UI server."""
    import uvicorn

    from parlor.app import create_app

    settings = _settings(host=host, port=port)
    _configure_logging(settings)
    providers = ", ".join(f"{p.name} ({p.kind}, {p.model})" for p in settings.providers)
    click.echo(f"Parlor listening on http://{settings.host}:{settings.port} — {settings.mode} mode, "
               f"auth {settings.auth}, providers: {providers}", err=True)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning",
                timeout_graceful_shutdown=int(settings.drain_seconds) + 5, lifespan="on")


def _configure_logging(settings: Settings) -> None:
    """JSON lines in distributed mode, a console format in embedded mode (PARLOR_LOG_FORMAT overrides);
    secrets masked on every line (the admin and metrics tokens, the providers' keys, any API key)."""
    from parlor.observability import configure_logging

    fmt = settings.log_format if settings.log_format != "auto" else (
        "console" if settings.mode == "embedded" else "json")
    secrets = [s.get_secret_value() for s in (settings.admin_token, settings.metrics_token) if s is not None]
    secrets += [p.api_key.get_secret_value() for p in settings.providers if p.api_key is not None]
    configure_logging(settings.log_level, fmt, secrets, settings.log_content)


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
    click.echo(f"Parlor worker: jobs from {settings.jobs_queue} on Redis, {settings.jobs_concurrency} at once",
               err=True)
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
        try:
            return await action(AccountStore(session_factory(engine)), settings)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@users.command("create")
@click.argument("name")
@click.option("--tier", help="The user's tier (default: PARLOR_DEFAULT_TIER).")
@click.option("--admin", is_flag=True, help="Make the user an admin.")
def users_create(name: str, tier: str | None, admin: bool) -> None:
    """Create a user and print its API key (shown this once)."""
    async def create(accounts: AccountStore, settings: Settings) -> str:
        try:
            created = await accounts.create_user(name, tier or settings.default_tier, "admin" if admin else "user")
        except UserExists as exc:
            raise click.ClickException(str(exc)) from None
        return created.api_key

    key = _with_accounts(create)
    click.echo(f"created user {name!r}; API key (shown once):", err=True)
    click.echo(key)


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
