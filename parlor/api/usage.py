"""Usage and cost (`GET /api/usage`, `GET /api/admin/usage`) and tier changes (`PATCH /api/users/{id}`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from parlor.api.deps import AdminDep, PrincipalDep, ServicesDep
from parlor.api.errors import ApiError
from parlor.api.inputs import RequestBody
from parlor.api.schemas import NamePath
from parlor.api.users import principal_json
from parlor.limits.limiter import LimitsUnavailable

router = APIRouter(prefix="/api", tags=["usage"])
Days = Annotated[int, Query(ge=1, le=366)]


class UserPatch(RequestBody):
    tier: str | None = Field(default=None, min_length=1, max_length=64)
    role: Literal["user", "admin"] | None = None


@router.get("/usage")
async def my_usage(svc: ServicesDep, who: PrincipalDep, days: Days = 30) -> dict[str, Any]:
    """The caller's own use, by UTC day and model, and today's token budget."""
    since = svc.usage.since(days)
    rows, total = await svc.usage.by_day_and_model(who.id, since)
    tier = svc.limits.guard.tiers.get(who.tier)
    limit, used = await svc.limits.budget.used_today(who)
    try:
        left = await svc.limits.guard.left(who)  # this request counts in no window: it asks no model
    except LimitsUnavailable:  # the shared store is down and the limits fail closed: the rest still shows
        left = {}
    return {
        "user_id": who.id, "tier": who.tier, "since": since.isoformat(), "days": rows, "total": total.as_json(),
        "budget": {"tokens_per_day": limit, "used_today": used,
                   "remaining_today": None if limit is None else max(0, limit - used),
                   "timezone": svc.settings.budget_timezone},
        "limits": {"requests_per_minute": tier.requests_per_minute, "requests_per_hour": tier.requests_per_hour,
                   "max_reply_tokens": tier.max_reply_tokens},
        "requests_left": {"minute": left.get("minute"), "hour": left.get("hour")},  # null: no such limit
    }


@router.get("/admin/usage")
async def all_usage(svc: ServicesDep, _: AdminDep, days: Days = 30,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 20) -> dict[str, Any]:
    """Everyone's use: the top spenders (by cost, then tokens) and the total."""
    since = svc.usage.since(days)
    top, total = await svc.usage.top_spenders(since, limit)
    return {"since": since.isoformat(), "top": top, "total": total.as_json()}


@router.patch("/users/{user_id}")
async def update_user(user_id: NamePath, body: UserPatch, svc: ServicesDep, _: AdminDep) -> dict[str, Any]:
    """An admin changes a user's tier (or role); it holds from the user's next request."""
    if body.tier is not None and body.tier not in svc.limits.guard.tiers:
        names = ", ".join(svc.limits.guard.tiers.names())
        raise ApiError(422, "unknown_tier", f"No tier {body.tier!r}; the tiers are: {names}.")
    updated = await svc.accounts.update_user(user_id, tier=body.tier, role=body.role)
    if updated is None:
        raise ApiError(404, "user_not_found", "No such user.")
    return principal_json(updated)
