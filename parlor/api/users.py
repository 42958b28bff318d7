"""The caller (`/api/me`), their own API keys (`/api/keys`), and user administration."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import Field

from parlor.accounts import Principal, TooManyKeys, UserExists
from parlor.accounts.keys import hash_key
from parlor.api.deps import AdminDep, PrincipalDep, ServicesDep, bearer
from parlor.api.errors import ApiError
from parlor.api.inputs import RequestBody
from parlor.api.schemas import NewUserBody
from parlor.db import utcnow

router = APIRouter(prefix="/api", tags=["users"])
KeyId = Annotated[str, Path(max_length=36)]


class NewKeyBody(RequestBody):
    name: str | None = Field(default=None, max_length=100, pattern=r"^[^\x00-\x1f]*$")
    expires_in_days: int | None = Field(default=None, ge=1, le=3650, description="None: the key never expires.")


def principal_json(who: Principal) -> dict[str, Any]:
    return {"id": who.id, "name": who.name, "tier": who.tier, "role": who.role}


def _expiry(days: int | None) -> datetime | None:
    return utcnow() + timedelta(days=days) if days else None


@router.get("/me")
async def me(svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    """The caller; `tier` is the one their groups give them, if any; `groups`: theirs, by name."""
    groups = [{"id": g.id, "name": g.name} for g in await svc.groups.of_user(who.id)]
    return {**principal_json(who), "groups": groups}


@router.get("/keys")
async def list_keys(request: Request, svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    """The caller's keys (never the keys themselves); `current` marks the one this request used."""
    token = bearer(request)
    current = await svc.accounts.key_id(who.id, hash_key(token)) if token else None
    return {"keys": [{**k.json(), "current": k.id == current} for k in await svc.accounts.list_keys(who.id)]}


@router.post("/keys", status_code=201)
async def create_key(body: NewKeyBody, svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    """A new key for the caller, shown in this answer only (Parlor keeps its hash)."""
    try:
        info, key = await svc.accounts.create_key(who.id, body.name, _expiry(body.expires_in_days))
    except TooManyKeys as exc:
        raise ApiError(409, "too_many_keys", str(exc)) from None
    return {**info.json(), "api_key": key}


@router.delete("/keys/{key_id}", status_code=204)
async def revoke_key(key_id: KeyId, svc: ServicesDep, who: PrincipalDep) -> Response:
    if not await svc.accounts.revoke_key(who.id, key_id):
        raise ApiError(404, "key_not_found", "No such active key of yours.")
    return Response(status_code=204)


@router.post("/users", status_code=201)
async def create_user(body: NewUserBody, svc: ServicesDep, _: AdminDep) -> dict[str, Any]:
    try:
        created = await svc.accounts.create_user(body.name, body.tier or svc.settings.default_tier,
                                                 expires_at=_expiry(body.expires_in_days))
    except UserExists as exc:
        raise ApiError(409, "user_exists", str(exc)) from None
    return {**principal_json(created.principal), "api_key": created.api_key}


@router.get("/users")
async def list_users(svc: ServicesDep, _: AdminDep) -> dict[str, Any]:
    return {"users": [principal_json(u) for u in await svc.accounts.list_users()]}
