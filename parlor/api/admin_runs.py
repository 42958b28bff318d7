"""The run inspector: `GET /api/admin/runs?user=&status=&since=` and `GET /api/admin/runs/{request_id}`
(admin users and the ADMIN_TOKEN bearer: everything); `GET /api/runs` and `GET /api/runs/{request_id}`
(a user's own runs: timings, tokens and outcome, without the admin-only fields)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from parlor.api.deps import AdminDep, PrincipalDep, ServicesDep
from parlor.api.errors import ApiError
from parlor.api.schemas import IdPath
from parlor.db import utcnow
from parlor.observability import record_json

router = APIRouter(prefix="/api", tags=["runs"])
Limit = Annotated[int, Query(ge=1, le=500)]
Status = Literal["complete", "error", "aborted"]
Since = Annotated[str | None, Query(max_length=64)]


def _since(value: str | None) -> datetime | None:
    """An ISO 8601 time, or a span back from now: `90s`, `15m`, `6h`, `7d`."""
    if value is None:
        return None
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    try:
        if re.fullmatch(r"[0-9]{1,9}[smhd]", value):  # ASCII digits only: int() would take any script's
            return utcnow() - timedelta(**{units[value[-1]]: int(value[:-1])})
        parsed = datetime.fromisoformat(value)
    except (ValueError, OverflowError):  # not a time, or a span reaching past year 1
        raise ApiError(422, "invalid_request", "since: an ISO 8601 time or a span like 15m, 6h, 7d.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=utcnow().tzinfo)


@router.get("/admin/runs")
async def admin_runs(svc: ServicesDep, _: AdminDep, user: Annotated[str | None, Query(max_length=128)] = None,
                     status: Status | None = None, since: Since = None, limit: Limit = 50) -> dict[str, Any]:
    rows = await svc.records.list(user_id=user, status=status, since=_since(since), limit=limit)
    return {"runs": [record_json(row, admin=True) for row in rows]}


@router.get("/admin/runs/{request_id}")
async def admin_run(svc: ServicesDep, request_id: IdPath, _: AdminDep) -> dict[str, Any]:
    row = await svc.records.get(request_id)
    if row is None:
        raise ApiError(404, "run_not_found", "No run with that request id.")
    return record_json(row, admin=True)


@router.get("/runs")
async def my_runs(svc: ServicesDep, who: PrincipalDep, status: Status | None = None, since: Since = None,
                  limit: Limit = 50) -> dict[str, Any]:
    rows = await svc.records.list(user_id=who.id, status=status, since=_since(since), limit=limit)
    return {"runs": [record_json(row, admin=False) for row in rows]}


@router.get("/runs/{request_id}")
async def my_run(svc: ServicesDep, request_id: IdPath, who: PrincipalDep) -> dict[str, Any]:
    row = await svc.records.get(request_id, user_id=who.id)
    if row is None:
        raise ApiError(404, "run_not_found", "No run with that request id.")
    return record_json(row, admin=False)
