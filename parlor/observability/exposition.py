"""Metrics over HTTP outside the API: the small app `parlor worker` serves on PARLOR_WORKER_METRICS_PORT
(`/metrics`, behind the same PARLOR_METRICS_TOKEN as the server's, and `/healthz`), and the token check
both use. Here, not in parlor/api: the worker serves no API."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Generator

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import SecretStr

from parlor.observability.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)


def token_matches(authorization: str, token: SecretStr | None) -> bool:
    """Whether an `Authorization` header carries the metrics token (always, when there is none)."""
    if token is None:
        return True
    scheme, _, given = authorization.partition(" ")
    given = given.strip() if scheme.lower() == "bearer" else ""
    return hmac.compare_digest(given.encode(), token.get_secret_value().encode())


def worker_metrics_app(metrics: Metrics, token: SecretStr | None) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/metrics")
    async def worker_metrics(request: Request) -> Response:
        if not token_matches(request.headers.get("authorization", ""), token):
            return JSONResponse({"error": {"code": "unauthorized", "message": "The metrics token is required "
                                           "(Authorization: Bearer <PARLOR_METRICS_TOKEN>)."}},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return Response(await metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the worker handles SIGTERM itself (uvicorn's handlers would replace its own)


@contextlib.asynccontextmanager
async def serve_metrics(metrics: Metrics, host: str, port: int | None,
                        token: SecretStr | None) -> AsyncIterator[None]:
    """Serves the worker's metrics while the block runs; a port that cannot be bound is logged, not fatal."""
    if port is None:
        yield
        return
    config = uvicorn.Config(worker_metrics_app(metrics, token), host=host, port=port, log_level="warning",
                            lifespan="off", access_log=False)
    server = _Server(config)

    async def serve() -> None:
        try:
            await server.serve()
        except (SystemExit, OSError):  # uvicorn exits when it cannot bind: the jobs go on without metrics
            log.warning("worker metrics: could not serve on %s:%d", host, port)

    task = asyncio.create_task(serve(), name="worker-metrics")
    try:
        yield
    finally:
        server.should_exit = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(task, 5)
