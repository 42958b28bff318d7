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
import orjson

from parlor.accounts import AccountStore, UserExists, parse_duration
from parlor.accounts.key_cache import KeyChanges
from parlor.cli_chat import DEFAULT_URL, chat_lines
from parlor.config import Settings, SettingsError, load_settings
from parlor.db import create_engine, migrate, session_factory, shown_url, urls

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
    from parlor.cli_serve import serve as run

    run(_settings(host=host, port=port), workers)


# a session advisory lock taken through a transaction pooler stays on whichever server connection took it
BEHIND_A_POOLER = ("parlor migrate needs a session of its own (an advisory lock, lock_timeout), which a transaction"
                   " pooler cannot give: point PARLOR_DATABASE_URL at PostgreSQL itself, or at a session-mode pool"
                   " with ?pooler=none (pods wait with `parlor migrate --wait`, which works through a pooler)")


@main.command("migrate")
@click.option("--wait", is_flag=True, help="Change nothing: wait until another run (the migrate Job) has "
                                           "brought the schema to this release's (a pod's init container).")
def migrate_command(wait: bool) -> None:
    """Bring the database to the newest schema."""
    from parlor.cli_serve import database_errors
    from parlor.db.schema import LockBusy, wait_for_head

    settings = _settings()
    if wait:
        revision = asyncio.run(wait_for_head(settings.database_url, say=click.echo))
        click.echo(f"the schema is at {revision}: up to date")
        return
    if settings.database_url.startswith("postgresql") and urls.parse(settings.database_url).pooled:
        raise click.ClickException(BEHIND_A_POOLER)
    click.echo(f"migrating {shown_url(settings.database_url)}")
    with database_errors(settings.database_url):
        try:
            applied = asyncio.run(migrate(settings.database_url, say=click.echo))
        except LockBusy as exc:
            raise click.ClickException(str(exc)) from None
    for revision in applied:
        click.echo(f"applied {revision}")
    if not applied:
        click.echo("already up to date")


@main.command()
@click.option("--concurrency", type=int, help="Jobs run at once (default: PARLOR_JOBS_CONCURRENCY or 1).")
def worker(concurrency: int | None) -> None:
    """Run background jobs (document ingestion) from the Redis queue, until SIGTERM."""
    from parlor.cli_serve import check_database, configure_logging
    from parlor.rag.store import VectorStoreUnavailable
    from parlor.wiring.worker import run_worker

    settings = _settings(jobs_concurrency=concurrency)
    if not settings.redis_url:
        raise click.ClickException("parlor worker reads its jobs from Redis: set PARLOR_REDIS_URL")
    check_database(settings)
    configure_logging(settings)
    metrics = (f", metrics on http://{settings.host}:{settings.worker_metrics_port}/metrics"
               if settings.worker_metrics_port is not None else "")

    def ready() -> None:
        click.echo(f"Parlor worker: jobs from {settings.jobs_queue} on Redis, {settings.jobs_concurrency} at once"
                   f"{metrics}", err=True)

    try:
        asyncio.run(run_worker(settings, ready))
    except VectorStoreUnavailable as exc:  # documents are this process's whole job: nothing to run without
        raise click.ClickException(f"the knowledge base cannot start: {exc}") from None


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", "user", required=True, help="The owner: a user name or id.")
@click.option("--thread", help="Scope the documents to this thread (default: the user's library).")
def ingest(files: tuple[Path, ...], user: str, thread: str | None) -> None:
    """Add FILES to USER's knowledge base (waits for them in embedded mode)."""
    from parlor.wiring.worker import ingest_files

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
    from parlor.redis_client import Options, connect
    from parlor.wiring.parts import redis_keys

    redis = connect(settings.redis_url, Options(wait=None, socket_timeout=None)) if settings.redis_url else None
    return KeyChanges(redis, redis_keys(settings))


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
    from parlor.rag.files import LocalFiles
    from parlor.rag.repo import DocumentRepo
    from parlor.wiring.knowledge import embedding, vector_store

    if settings.embedded:
        await migrate(settings.database_url)
    engine = create_engine(settings.database_url, pool_size=1)
    sessions = session_factory(engine)
    embedder = await asyncio.to_thread(embedding, settings)  # the store's width is the model's
    store = vector_store(settings, embedder.dimensions)
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
@click.option("--url", envvar="PARLOR_URL", default=DEFAULT_URL, show_default=True, show_envvar=True,
              help="The Parlor server.")
@click.option("--key", envvar="PARLOR_API_KEY", show_envvar=True, help="API key (not needed with PARLOR_AUTH=off).")
@click.option("--thread", help="Continue this thread id (default: a new thread).")
def chat(message: str | None, url: str, key: str | None, thread: str | None) -> None:
    """Chat from the terminal: streams each reply. Without MESSAGE, reads lines until EOF."""
    thread_id = thread or uuid.uuid4().hex
    chat_lines(url, key, thread_id, [message] if message else (line.rstrip("\n") for line in sys.stdin))
    click.echo(f"(thread {thread_id})", err=True)
