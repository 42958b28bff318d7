"""The HTTP edge: routes, auth, request ids, error mapping, SSE responses. No business rules."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI

from parlor.api import (
    account,
    admin_runs,
    assistants,
    auth_config,
    chat,
    documents,
    experiments,
    export,
    feedback,
    files,
    groups,
    health,
    instructions,
    memories,
    metrics,
    models,
    oidc,
    openai,
    shares,
    threads,
    usage,
    users,
)
from parlor.api.context import BodyLimitMiddleware, RequestContextMiddleware, current_request_id
from parlor.api.deps import Services, services
from parlor.api.errors import ERROR_RESPONSES, UnhandledErrors, install_error_handlers
from parlor.api.inputs import url_follows_the_rule
from parlor.api.ratelimit import RateLimitHeaders, install_limit_errors
from parlor.api.security_headers import install_security
from parlor.api.web import mount_web
from parlor.observability import Metrics
from parlor.observability.http import ObservabilityMiddleware

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


UPLOAD_OVERHEAD = 64 * 1024  # multipart framing around an uploaded file


def create_api(lifespan: Lifespan, max_body_bytes: int, web_dir: Path,
               telemetry: Metrics | None = None, max_upload_bytes: int | None = None,
               cors_origins: list[str] | None = None, built: Services | None = None,
               max_chat_bytes: int | None = None) -> FastAPI:
    """The app over `built`, the services the composition root made (with no I/O, before the app; the
    lifespan starts what needs starting): every route's `ServicesDep` returns them. Without them the app
    only describes itself (its routes and schema, which tests read)."""
    app = FastAPI(title="Parlor", version="0.1.0", lifespan=lifespan, docs_url="/api/docs",
                  openapi_url="/api/openapi.json", redoc_url=None, dependencies=[Depends(url_follows_the_rule)],
                  **_without_native_telemetry())
    if built is not None:
        app.dependency_overrides[services] = _returning(built)
    install_error_handlers(app)
    install_limit_errors(app)
    for module in (health, users, chat, threads, openai, usage, memories, metrics, admin_runs, documents,
                   experiments, feedback, oidc, account, auth_config, models, files, shares, export,
                   assistants, groups, instructions):
        app.include_router(module.router, responses=ERROR_RESPONSES)
    mount_web(app, web_dir)
    app.add_middleware(RateLimitHeaders)
    uploads = {"/api/documents": max_upload_bytes + UPLOAD_OVERHEAD} if max_upload_bytes else {}
    if max_chat_bytes:  # a message's images and PDFs ride in its JSON body
        uploads["/api/chat"] = uploads["/v1/chat/completions"] = max_chat_bytes
    # inside observability: a refused body is logged and counted like any request
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=max_body_bytes, upload_bytes=uploads)
    app.add_middleware(UnhandledErrors)  # inside both below: a 500 has its request id, log line and span
    if telemetry is not None:  # inside the request id's middleware: every span, line and metric has the id
        app.add_middleware(ObservabilityMiddleware, metrics=telemetry, request_id=current_request_id)
    app.add_middleware(RequestContextMiddleware)
    install_security(app, cors_origins or [])  # outermost: every answer carries the headers
    return app


def _returning(built: Services) -> Callable[[], Awaitable[Services]]:
    async def the_services() -> Services:  # async: FastAPI runs sync dependencies in threads
        return built

    return the_services


def _without_native_telemetry() -> dict[str, Any]:
    """FastAPI's own OpenTelemetry spans and metrics (newer releases) stay off: Parlor's middleware owns
    the request span (with its request id, `X-Trace-ID` and the Prometheus metrics by route)."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}}


__all__ = ["Services", "create_api"]
