"""The caller (`/api/me`) and user administration."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from parlor.accounts import Principal, UserExists
from parlor.api.deps import AdminDep, PrincipalDep, ServicesDep
from parlor.api.errors import ApiError
from parlor.api.schemas import NewUserBody

router = APIRouter(prefix="/api", tags=["users"])


def principal_json(who: Principal) -> dict[str, Any]:
    return {"id": who.id, "name": who.name, "tier": who.tier, "role": who.role}


@router.get("/me")
async def me(who: PrincipalDep) -> dict[str, Any]:
    return principal_json(who)


@router.post("/users", status_code=201)
async def create_user(body: NewUserBody, svc: ServicesDep, _: AdminDep) -> dict[str, Any]:
    try:
        created = await svc.accounts.create_user(body.name, body.tier or svc.settings.default_tier)
    except UserExists as exc:
        raise ApiError(409, "user_exists", str(exc)) from None
    return {**principal_json(created.principal), "api_key": created.api_key}


@router.get("/users")
async def list_users(svc: ServicesDep, _: AdminDep) -> dict[str, Any]:
    return {"users": [principal_json(u) for u in await svc.accounts.list_users()]}
