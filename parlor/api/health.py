"""Liveness and readiness."""

from __future__ import annotations

import asyncio
import logging

import orjson
from fastapi import APIRouter, Response

from parlor.api.context import current_request_id
from parlor.api.deps import Check, ServicesDep

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)
CHECK_TIMEOUT = 1.0  # each check (database, Redis, providers' breakers...): a slow dependency is not ready


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(svc: ServicesDep) -> Response:
    outcomes = await asyncio.gather(*(_check(name, check) for name, check in svc.checks.items()))
    results = {name: why is None for name, why in outcomes}
    reasons = {name: why for name, why in outcomes if why is not None}
    if svc.drain.started:
        results["accepting"] = False  # shutting down: the load balancer should send turns elsewhere
    failed = [name for name, ok in results.items() if not ok]
    if not failed:
        return Response(orjson.dumps({"status": "ok", "checks": results}), media_type="application/json")
    error = {"code": "not_ready", "message": f"unavailable: {', '.join(failed)}",
             "request_id": current_request_id(), "failed": failed, "reasons": reasons}
    return Response(orjson.dumps({"error": error, "checks": results}), status_code=503,
                    media_type="application/json")


async def _check(name: str, check: Check) -> tuple[str, str | None]:
    """The check's name, and None when it passed, else a short reason (no addresses, no secrets)."""
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT)
        return name, None
    except TimeoutError:
        log.warning("readiness check %s timed out after %.1f s", name, CHECK_TIMEOUT)
        return name, "timeout"
    except Exception as exc:
        log.warning("readiness check %s failed: %s", name, exc)
        return name, type(exc).__name__
