"""`parlor serve`'s composition root: every collaborator built from Settings, here and in parts.py, and
passed in through constructors; then started by the app's lifespan, and closed in reverse.

The services are built synchronously, before the app (constructors do no I/O), and handed to
`create_api`, whose dependency returns them: routes get them as a typed argument, with no `app.state`
to read and nothing assigned after construction. What needs I/O to begin (the database's migrations,
the local user, the knowledge base, MCP servers, the experiments' first read) starts in `start()`."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from types import FrameType
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.accounts import AccountStore
from parlor.accounts.auth import Auth, KeyAuth, LocalAuth
from parlor.accounts.data import AccountData, DocumentsUnavailable, ForgetDocument
from parlor.accounts.key_cache import KeyChanges
from parlor.agent import AgentLoop, ToolRegistry
from parlor.agent.catalog import configured_tools
from parlor.agent.mcp_tools import McpTools
from parlor.agent.transcript import render_stored
from parlor.api import Services, create_api
from parlor.assistants.groups import GroupStore
from parlor.assistants.service import Assistants, ToolKinds
from parlor.assistants.store import AssistantStore
from parlor.attachments import AttachmentStore
from parlor.chat import ChatService, Gateway, ModelCatalog, RunRegistry, TurnPlanner, TurnRecorder, TurnRunner
from parlor.chat.drain import Drain
from parlor.chat.leases import Leases
from parlor.chat.mirror import Mirror, NoMirror, RunMirror
from parlor.chat.recovery import RunRecovery
from parlor.config import UNLIMITED_TIER, Settings
from parlor.db import create_engine, migrate, session_factory, utcnow
from parlor.limits import PriceTable, Tiers, UsageLedger, UsageReport
from parlor.limits.facts import AccountFacts
from parlor.limits.redis_store import limits_client
from parlor.memory import MessageStore
from parlor.observability import Metrics, RunRecorder, RunStore
from parlor.rag import Knowledge, KnowledgeUnavailable
from parlor.rag.retrieval import knowledge_tool
from parlor.shares import ShareStore
from parlor.tasks import TaskTracker, every
from parlor.wiring import parts
from parlor.wiring.knowledge import knowledge as build_knowledge

log = logging.getLogger(__name__)
DRAIN_SECONDS = 10.0
Sessions = async_sessionmaker[AsyncSession]


class Server:
    def __init__(self, settings: Settings):
        self.settings = settings
        prices = PriceTable(settings.prices)
        self.telemetry = parts.telemetry(settings, prices.cost)
        self.engine = create_engine(settings.database_url, settings.db_pool_size, settings.db_max_overflow,
                                    settings.db_pool_timeout)
        sessions = session_factory(self.engine)
        keys = parts.redis_keys(settings)
        url = settings.redis_url
        self.redis = parts.shared_redis(url, settings.redis_max_connections) if url else None
        self.limits_redis = limits_client(url, settings.limits_redis_timeout, settings.redis_max_connections) \
            if url else None  # the limits' own client: shorter timeouts, no retries
        self.router = parts.router(settings, parts.breakers(self.redis, keys), self.telemetry.metrics)
        self.tasks = TaskTracker()
        self.tools = ToolRegistry()
        self.tools_client = httpx.AsyncClient(follow_redirects=False)  # shared by every HTTP tool
        self.mcp = McpTools()
        self.limits = parts.limits(settings, keys, self.limits_redis)
        self.knowledge = build_knowledge(settings, self.engine, self.redis, keys)
        self.experiments = parts.experiments(settings, self.engine, self.router, self.tools)
        self.key_changes = KeyChanges(self.redis, keys)
        accounts = AccountStore(sessions, settings.key_cache_seconds, self.key_changes)
        self.auth: Auth = LocalAuth(accounts, UNLIMITED_TIER) if settings.auth == "off" else KeyAuth(accounts)
        self.attachments = AttachmentStore(self.knowledge.files)  # the documents' store: a directory or S3
        self.data = AccountData(sessions, _forget(self.knowledge), self.key_changes, self.attachments)
        self.services = self._services(accounts, sessions, prices)
        self._background: list[asyncio.Task[None]] = []

    def _mirror(self) -> Mirror:
        if self.redis is None:
            return NoMirror()
        keys = parts.redis_keys(self.settings)
        return RunMirror(self.redis, keys, Leases(self.redis, keys), self.tasks, self.settings.run_ttl)

    def _services(self, accounts: AccountStore, sessions: Sessions, prices: PriceTable) -> Services:
        settings, redis, tasks = self.settings, self.redis, self.tasks
        store = MessageStore(sessions)
        ledger = UsageLedger(sessions, prices)
        mirror = self._mirror()
        runs = RunRegistry(tasks, mirror.publish)
        counter = parts.token_counter(settings, self.router.providers[0])
        render = partial(render_stored, image_rule=settings.providers[0].kind)  # its images' tokens: by its rule
        memory = parts.conversation_memory(settings, self.engine, self.router, tasks, counter, render)
        records = RunStore(sessions)
        recorder = RunRecorder(records, tasks, self.telemetry.metrics, prices.cost)
        turns = TurnRecorder(store, ledger, self.limits.budget, recorder, memory, tasks,
                             settings.data_dir / "unsaved-answers.jsonl", settings.write_retry_seconds)
        agent = AgentLoop(self.router, self.tools, settings.max_tool_steps, settings.approval_timeout_seconds)
        runner = TurnRunner(agent, turns, memory)
        models = ModelCatalog(settings.providers, Tiers(settings.tiers, settings.default_tier), prices,
                              settings.default_model)
        assistants = Assistants(AssistantStore(sessions), sessions, models, ToolKinds(self.tools, settings),
                                _forget(self.knowledge))
        planner = TurnPlanner(memory, self.limits.budget, self.experiments.book, models, self.attachments,
                              sees_images=any(p.sees_images for p in settings.providers), assistants=assistants)
        chat = ChatService(planner, runner, turns, runs, mirror)
        gateway_runs = RunRegistry(tasks, mirror.publish)
        gateway = Gateway(self.router, ledger, tasks, self.limits.budget, recorder, mirror, gateway_runs)
        self.recovery = RunRecovery(store, mirror, runs)
        self.drain = Drain([runs, gateway_runs], settings.drain_seconds)
        checks = parts.checks(self.engine, redis, self.router)
        checks["queue"] = self.knowledge.check
        assert memory.facts is not None  # always built (PARLOR_MEMORY=off only keeps them out of prompts)
        assert memory.instructions is not None
        return Services(settings=settings, accounts=accounts, auth=self.auth, store=store, chat=chat, runs=runs,
                        gateway=gateway, models=models, limits=self.limits, usage=UsageReport(sessions), checks=checks,
                        memories=memory.facts, experiments=self.experiments, data=self.data,
                        knowledge=self.knowledge, oidc=parts.oidc(settings, self.tools_client),
                        metrics=self.telemetry.metrics, records=records, drain=self.drain,
                        attachments=self.attachments, shares=ShareStore(sessions), assistants=assistants,
                        groups=GroupStore(sessions), instructions=memory.instructions)

    async def start(self) -> None:
        settings, metrics = self.settings, self.telemetry.metrics
        if settings.embedded:
            await migrate(settings.database_url)  # an embedded database sets itself up
        self.telemetry.start(self.engine, self.redis)
        metrics.on_scrape(lambda m: _breaker_states(m, self))
        await self.auth.start()
        if await self.knowledge.start_or_degrade():  # job metrics, and the queue's depth at each scrape
            metrics.watch_jobs(settings.jobs_queue, self.knowledge.queue, self.knowledge.runner)
        self.tools.extend(configured_tools(settings, AccountFacts(session_factory(self.engine), self.limits.budget),
                                           self.tools_client, self.services.memories, self._search_tool()))
        self.tools.extend(await self.mcp.start(settings.mcp_servers))
        await self.experiments.start(settings.experiments)  # settings' experiments seeded; the first copy read
        self._drain_on_sigterm()
        await self._repair_dead_runs()
        self._run(self.recovery.watch, "run-recovery")
        self._run(self.services.chat.listen_for_stops, "stop-listener")
        self._run(self.key_changes.listen, "key-changes")  # the key cache is on while heard
        self._run(self.experiments.book.watch, "experiments-refresh")
        if settings.retention_days is not None:
            self._run(lambda: every(settings.retention_interval_seconds, self._purge, "retention"), "retention")

    def _drain_on_sigterm(self) -> None:
        """SIGTERM (a deploy) drains first (chat/drain.py); uvicorn's own handler, which closes the listener
        and ends the streams, runs only once the drain is over. A second SIGTERM skips the wait."""
        if threading.current_thread() is not threading.main_thread():
            return  # an app run in a test's thread: no signals there
        loop = asyncio.get_running_loop()
        server_exit = signal.getsignal(signal.SIGTERM)
        if not callable(server_exit):
            return  # not under uvicorn (its handler is installed before the lifespan starts)

        async def drain_then_exit(sig: int, frame: FrameType | None) -> None:
            try:
                await self.drain.run()
            finally:
                server_exit(sig, frame)

        def on_sigterm(sig: int, frame: FrameType | None) -> None:
            signal.signal(signal.SIGTERM, server_exit)  # the next one goes straight to uvicorn
            loop.call_soon_threadsafe(lambda: self._run(lambda: drain_then_exit(sig, frame), "drain"))

        signal.signal(signal.SIGTERM, on_sigterm)

    async def _repair_dead_runs(self) -> None:
        """Answers a dead process left `streaming` (this replica's predecessor's, without Redis)."""
        try:
            if repaired := await self.recovery.repair():
                log.warning("%d answer(s) left streaming by a process that died were ended as errors", repaired)
        except Exception as exc:  # the database may still be coming up: the watch tries again
            log.warning("could not look for runs that died: %s", exc)

    def _search_tool(self) -> Any:
        k = self.knowledge
        return knowledge_tool(k.retriever, k.repo, self.settings.tool_timeout) if k.up else None

    def _run(self, work: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        self._background.append(asyncio.create_task(work(), name=name))

    async def _purge(self) -> None:
        """PARLOR_RETENTION_DAYS: threads idle that long are purged now and every interval after."""
        days = self.settings.retention_days
        assert days is not None
        if purged := await self.data.purge_threads(utcnow() - timedelta(days=days)):
            log.info("retention: purged %d thread(s) idle for %d days or more", purged, days)

    async def aclose(self) -> None:
        for task in self._background:
            task.cancel()
        await self.services.runs.drain(self.settings.drain_seconds)  # running turns finish, or end as aborted
        await self.tasks.drain(DRAIN_SECONDS)
        await self.knowledge.aclose()
        await self.router.aclose()
        await self.mcp.aclose()
        await self.tools_client.aclose()
        for client in (self.limits_redis, self.redis):
            if client is not None:
                await client.aclose()
        await self.engine.dispose()
        self.telemetry.close()


def create_app(settings: Settings) -> FastAPI:
    server = Server(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await server.start()
            yield
        finally:
            await server.aclose()

    return create_api(lifespan, settings.max_body_bytes, settings.web_dir, server.telemetry.metrics,
                      max_upload_bytes=settings.max_upload_bytes, cors_origins=settings.cors_origins,
                      built=server.services, max_chat_bytes=settings.max_chat_body_bytes)


def _forget(knowledge: Knowledge) -> ForgetDocument:
    """Account deletion's way to delete a document's file, chunks and vectors (refused while the knowledge
    base is off: nothing is deleted then)."""
    async def forget(user_id: str, document_id: str) -> bool:
        try:
            documents = knowledge.service()
        except KnowledgeUnavailable:
            raise DocumentsUnavailable("the knowledge base is unavailable, so documents' chunks cannot be "
                                       "deleted") from None
        return await documents.delete(user_id, document_id)

    return forget


async def _breaker_states(metrics: Metrics, server: Server) -> None:
    metrics.breakers({name: state.value for name, state in (await server.router.breaker_states()).items()})
