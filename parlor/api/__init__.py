"""The HTTP edge: routes, auth, request ids, error mapping, SSE responses. No business rules."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from parlor.api import admin_runs, chat, documents, health, memories, metrics, openai, threads, usage, users
from parlor.api.context import RequestContextMiddleware, current_request_id
from parlor.api.deps import Services
from parlor.api.errors import install_error_handlers
from parlor.api.ratelimit import RateLimitHeaders, install_limit_errors
from parlor.api.web import mount_web
from parlor.observability import Metrics
from parlor.observability.http import ObservabilityMiddleware

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


UPLOAD_OVERHEAD = 64 * 1024  # multipart framing around an uploaded file


def create_api(lifespan: Lifespan, max_body_bytes: int, web_dir: Path,
               telemetry: Metrics | None = None, max_upload_bytes: int | None = None) -> FastAPI:
    app = FastAPI(title="Parlor", version="0.1.0", lifespan=lifespan, docs_url="/api/docs",
                  openapi_url="/api/openapi.json", redoc_url=None, **_without_native_telemetry())
    install_error_handlers(app)
    install_limit_errors(app)
    for module in (health, users, chat, threads, openai, usage, memories, metrics, admin_runs, documents):
        app.include_router(module.router)
    mount_web(app, web_dir)
    app.add_middleware(RateLimitHeaders)
    if telemetry is not None:  # inside the request id's middleware: every span, line and metric has the id
        app.add_middleware(ObservabilityMiddleware, metrics=telemetry, request_id=current_request_id)
    uploads = {"/api/documents": max_upload_bytes + UPLOAD_OVERHEAD} if max_upload_bytes else None
    app.add_middleware(RequestContextMiddleware, max_body_bytes=max_body_bytes, upload_bytes=uploads)
    return app


def _without_native_telemetry() -> dict[str, Any]:
    """FastAPI's own OpenTelemetry spans and metrics (newer releases) stay off: Parlor's middleware owns
    the request span (with its request id, `X-Trace-ID` and the Prometheus metrics by route)."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}}


__all__ = ["Services", "create_api"]
