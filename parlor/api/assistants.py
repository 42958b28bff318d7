"""`/api/assistants`: assistants the caller may see (their own, public ones, those shared with their
groups), made and changed by their owners; `/api/tools`: the tools an assistant may offer."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import Field, field_validator

from parlor.accounts.data import DocumentsUnavailable
from parlor.api.deps import PrincipalDep, ServicesDep
from parlor.api.errors import ApiError
from parlor.api.inputs import RequestBody
from parlor.api.schemas import IdPath
from parlor.assistants.types import (
    AssistantFields,
    AssistantNotFound,
    AssistantView,
    InvalidAssistant,
    NotAssistantOwner,
    Visibility,
)

router = APIRouter(prefix="/api", tags=["assistants"])
NOT_FOUND = ApiError(404, "assistant_not_found", "No such assistant.")
NOT_OWNER = ApiError(403, "not_assistant_owner", "Only the assistant's owner may change it.")
ToolName = Annotated[str, Field(min_length=1, max_length=64)]
Starter = Annotated[str, Field(min_length=1, max_length=200)]
GroupId = Annotated[str, Field(min_length=1, max_length=36)]
Name = Annotated[str, Field(min_length=1, max_length=80, pattern=r"\S")]


def _avatar(value: str | None) -> str | None:
    """One emoji (a few code points: modifiers, joiners) or one or two letters; empty: none."""
    if not value:
        return value
    letters = len(value) <= 2 and value.isalpha()
    emoji = len(value) <= 8 and all(not ch.isalnum() and not ch.isspace() and ord(ch) > 0x7F for ch in value)
    if not (letters or emoji):
        raise ValueError("one emoji or one or two letters")
    return value


class _Body(RequestBody):
    @field_validator("avatar", check_fields=False)
    @classmethod
    def _one_avatar(cls, value: str | None) -> str | None:
        return _avatar(value)


class AssistantBody(_Body):
    name: Name
    description: str = Field(default="", max_length=500)
    instructions: str = Field(default="", max_length=8000, description="Shown to its owner only.")
    model: str | None = Field(default=None, min_length=1, max_length=200, description="null: the tier's default.")
    tools: list[ToolName] | None = Field(default=None, max_length=128, description="null: all the server offers.")
    approval_tools: list[ToolName] = Field(default_factory=list, max_length=128)
    starters: list[Starter] = Field(default_factory=list, max_length=4)
    avatar: str = Field(default="", max_length=16)
    color: str = Field(default="", pattern=r"^(#[0-9a-fA-F]{6})?$")
    visibility: Visibility = Visibility.PRIVATE
    groups: list[GroupId] = Field(default_factory=list, max_length=100)


class AssistantPatch(_Body):
    name: Name | None = None
    description: str | None = Field(default=None, max_length=500)
    instructions: str | None = Field(default=None, max_length=8000)
    model: str | None = Field(default=None, min_length=1, max_length=200)
    tools: list[ToolName] | None = Field(default=None, max_length=128)
    approval_tools: list[ToolName] | None = Field(default=None, max_length=128)
    starters: list[Starter] | None = Field(default=None, max_length=4)
    avatar: str | None = Field(default=None, max_length=16)
    color: str | None = Field(default=None, pattern=r"^(#[0-9a-fA-F]{6})?$")
    visibility: Visibility | None = None
    groups: list[GroupId] | None = Field(default=None, max_length=100)


NULLABLE = ("model", "tools")  # null means something (the default model, all tools); elsewhere: unchanged


def _changes(body: RequestBody) -> dict[str, Any]:
    values = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None or k in NULLABLE}
    if "name" in values:
        values["name"] = values["name"].strip()
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def _iso(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def assistant_json(view: AssistantView, caller: str) -> dict[str, Any]:
    fields, mine = view.fields, view.owner.id == caller
    return {"id": view.id, "name": fields.name, "description": fields.description,
            "instructions": fields.instructions if mine else None, "model": fields.model,
            "tools": list(fields.tools) if fields.tools is not None else None,
            "approval_tools": list(fields.approval_tools), "starters": list(fields.starters),
            "avatar": fields.avatar, "color": fields.color, "visibility": fields.visibility.value,
            "groups": [{"id": g.id, "name": g.name} for g in view.groups],
            "owner": {"id": view.owner.id, "name": view.owner.name}, "mine": mine,
            "documents": [{"id": d.id, "filename": d.filename, "status": d.status} for d in view.documents],
            "created_at": _iso(view.created_at), "updated_at": _iso(view.updated_at)}


def _invalid(exc: InvalidAssistant) -> ApiError:
    return ApiError(422, exc.code, exc.message)


@router.get("/assistants")
async def list_assistants(svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    """The caller's own first, then those shared with them (public, or with a group of theirs)."""
    return {"assistants": [assistant_json(a, who.id) for a in await svc.assistants.visible(who)]}


@router.post("/assistants", status_code=201)
async def create_assistant(body: AssistantBody, svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    try:
        created = await svc.assistants.create(who, AssistantFields(**_changes(body)))
    except InvalidAssistant as exc:
        raise _invalid(exc) from None
    return assistant_json(created, who.id)


@router.get("/assistants/{assistant_id}")
async def get_assistant(assistant_id: IdPath, svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    try:
        return assistant_json(await svc.assistants.get(who, assistant_id), who.id)
    except AssistantNotFound:
        raise NOT_FOUND from None


@router.patch("/assistants/{assistant_id}")
async def update_assistant(assistant_id: IdPath, body: AssistantPatch, svc: ServicesDep,
                           who: PrincipalDep) -> dict[str, Any]:
    """Changes the fields sent (`groups` replaces the list; `model`, `tools`: null means the default, all)."""
    try:
        current = await svc.assistants.owned(who, assistant_id)
        updated = await svc.assistants.update(who, assistant_id, replace(current.fields, **_changes(body)))
    except AssistantNotFound:
        raise NOT_FOUND from None
    except NotAssistantOwner:
        raise NOT_OWNER from None
    except InvalidAssistant as exc:
        raise _invalid(exc) from None
    return assistant_json(updated, who.id)


@router.delete("/assistants/{assistant_id}", status_code=204)
async def delete_assistant(assistant_id: IdPath, svc: ServicesDep, who: PrincipalDep) -> Response:
    """Deletes the assistant with its documents; chats with it stay readable (new messages are refused)."""
    try:
        await svc.assistants.delete(who, assistant_id)
    except DocumentsUnavailable as exc:
        raise ApiError(503, "knowledge_unavailable", f"Nothing was deleted: {exc}. Try again later.") from None
    except AssistantNotFound:
        raise NOT_FOUND from None
    except NotAssistantOwner:
        raise NOT_OWNER from None
    return Response(status_code=204)


@router.get("/tools")
async def list_tools(svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    """The tools this server offers (an assistant offers all of them, or those it names)."""
    return {"tools": [{"name": t.name, "description": t.description, "kind": t.kind}
                      for t in svc.assistants.tools.offered()]}
