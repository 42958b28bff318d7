"""The HTTP edge: routes, auth, request ids, error mapping, SSE responses. No business rules."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from fastapi import FastAPI

from parlor.api import chat, health, memories, openai, threads, usage, users
from parlor.api.context import RequestContextMiddleware
from parlor.api.deps import Services
from parlor.api.errors import install_error_handlers
from parlor.api.ratelimit import RateLimitHeaders, install_limit_errors
from parlor.api.web import mount_web

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_api(lifespan: Lifespan, max_body_bytes: int, web_dir: Path) -> FastAPI:
    app = FastAPI(title="Parlor", version="0.1.0", lifespan=lifespan, docs_url="/api/docs",
                  openapi_url="/api/openapi.json", redoc_url=None)
    install_error_handlers(app)
    install_limit_errors(app)
    for module in (health, users, chat, threads, openai, usage, memories):
        app.include_router(module.router)
    mount_web(app, web_dir)
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=max_body_bytes)
    return app


__all__ = ["Services", "create_api"]
