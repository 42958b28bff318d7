"""`GET /metrics`: Prometheus text format on the main port; with PARLOR_METRICS_TOKEN set, only for
`Authorization: Bearer <that token>`. `parlor worker` serves the same route on a port of its own
(PARLOR_WORKER_METRICS_PORT), with its job metrics and the queue's depth."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Generator

import uvicorn
from fastapi import APIRouter, FastAPI, Request, Response
from pydantic import SecretStr

from parlor.api.deps import UNAUTHORIZED, ServicesDep, bearer
from parlor.api.errors import install_error_handlers
from parlor.observability import Metrics, Telemetry
from parlor.observability.metrics import CONTENT_TYPE

router = APIRouter(tags=["observability"])
log = logging.getLogger(__name__)


def telemetry_of(request: Request) -> Telemetry:
    found: Telemetry = request.app.state.telemetry
    return found


async def _exposition(request: Request, metrics: Metrics, token: SecretStr | None) -> Response:
    if token is not None:
        given = bearer(request) or ""
        if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
            raise UNAUTHORIZED
    return Response(await metrics.render(), media_type=CONTENT_TYPE)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, svc: ServicesDep) -> Response:
    return await _exposition(request, telemetry_of(request).metrics, svc.settings.metrics_token)


def worker_metrics_app(metrics: Metrics, token: SecretStr | None) -> FastAPI:
    """The worker's own small app: `/metrics` (same token as the server's) and `/healthz`."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    install_error_handlers(app)

    @app.get("/metrics")
    async def worker_metrics(request: Request) -> Response:
        return await _exposition(request, metrics, token)

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
