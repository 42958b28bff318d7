"""`/api/admin/groups`: groups of users, kept by admins (assistants are shared with them; a group's tier
is its members')."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import Field

from parlor.api.deps import AdminDep, Services, ServicesDep
from parlor.api.errors import ApiError
from parlor.api.inputs import RequestBody
from parlor.api.schemas import IdPath
from parlor.assistants.groups import UNSET
from parlor.assistants.types import GroupExists, GroupNotFound, GroupView, UnknownUser

router = APIRouter(prefix="/api/admin/groups", tags=["groups"])
NOT_FOUND = ApiError(404, "group_not_found", "No such group.")
GroupName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]*\S[^\x00-\x1f]*$")]
Members = Annotated[list[Annotated[str, Field(min_length=1, max_length=36)]], Field(max_length=10_000)]


class NewGroupBody(RequestBody):
    name: GroupName
    tier: str | None = Field(default=None, min_length=1, max_length=64, description="Given to its members.")
    members: Members = Field(default_factory=list, description="User ids.")


class GroupPatch(RequestBody):
    name: GroupName | None = None
    tier: str | None = Field(default=None, min_length=1, max_length=64, description="null: no tier.")
    members: Members | None = Field(default=None, description="Replaces the list.")


def group_json(group: GroupView) -> dict[str, Any]:
    return {"id": group.id, "name": group.name, "tier": group.tier,
            "members": [{"id": m.id, "name": m.name} for m in group.members]}


def _known_tier(svc: Services, tier: str | None) -> None:
    if tier is not None and tier not in svc.settings.tiers:
        raise ApiError(422, "unknown_tier", f"There is no tier {tier!r} (PARLOR_TIERS has "
                       f"{', '.join(svc.settings.tiers)}).")


async def _announce(svc: Services, users: set[str]) -> None:
    """The users' tier and groups may have changed: every process's key cache forgets them at once."""
    for user_id in users:
        await svc.accounts.changes.announce(user_id)


@router.get("")
async def list_groups(svc: ServicesDep, _: AdminDep) -> dict[str, Any]:
    return {"groups": [group_json(g) for g in await svc.groups.all()]}


@router.post("", status_code=201)
async def create_group(body: NewGroupBody, svc: ServicesDep, _: AdminDep) -> dict[str, Any]:
    _known_tier(svc, body.tier)
    try:
        group = await svc.groups.create(body.name.strip(), body.tier, body.members)
    except GroupExists:
        raise ApiError(409, "group_exists", f"A group named {body.name!r} exists already.") from None
    except UnknownUser as exc:
        raise ApiError(422, "unknown_user", f"members: {exc}") from None
    await _announce(svc, set(body.members))
    return group_json(group)


@router.patch("/{group_id}")
async def update_group(group_id: IdPath, body: GroupPatch, svc: ServicesDep, _: AdminDep) -> dict[str, Any]:
    _known_tier(svc, body.tier)
    tier = body.tier if "tier" in body.model_fields_set else UNSET
    try:
        group, touched = await svc.groups.update(group_id, body.name.strip() if body.name else None, tier,
                                                 body.members)
    except GroupNotFound:
        raise NOT_FOUND from None
    except GroupExists:
        raise ApiError(409, "group_exists", f"A group named {body.name!r} exists already.") from None
    except UnknownUser as exc:
        raise ApiError(422, "unknown_user", f"members: {exc}") from None
    await _announce(svc, touched)
    return group_json(group)


@router.delete("/{group_id}", status_code=204)
async def delete_group(group_id: IdPath, svc: ServicesDep, _: AdminDep) -> Response:
    members = await svc.groups.delete(group_id)
    if members is None:
        raise NOT_FOUND
    await _announce(svc, members)
    return Response(status_code=204)
