"""What the bot remembers about the caller (`GET /api/memories`), adding to it (`POST`), editing it (`PATCH`),
forgetting it (`DELETE`).

Facts are saved by the model's `remember` tool or by the user; each user sees and deletes only their own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from parlor.api.deps import PrincipalDep, ServicesDep
from parlor.api.errors import ApiError
from parlor.api.schemas import IdPath, NewMemoryBody
from parlor.memory import MemoryFull, SavedFact
from parlor.memory.facts import DuplicateFact

router = APIRouter(prefix="/api/memories", tags=["memories"])
NOT_FOUND = ApiError(404, "memory_not_found", "No such memory.")


def _json(fact: SavedFact) -> dict[str, Any]:
    created: datetime = fact.created_at if fact.created_at.tzinfo else fact.created_at.replace(tzinfo=UTC)
    thread = {"id": fact.thread_id, "title": fact.thread_title} if fact.thread_found else None
    return {"id": fact.id, "text": fact.text, "tokens": fact.tokens, "thread_id": fact.thread_id, "thread": thread,
            "created_at": created.isoformat()}


@router.get("")
async def list_memories(svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    facts = await svc.memories.saved(who.id)
    return {"memories": [_json(f) for f in facts], "enabled": svc.settings.memory == "on"}


@router.post("", status_code=201, responses={200: {"description": "The same fact was saved already"}})
async def add_memory(body: NewMemoryBody, svc: ServicesDep, who: PrincipalDep) -> JSONResponse:
    if svc.settings.memory != "on":
        raise ApiError(409, "memory_off", "Memory is off on this server (PARLOR_MEMORY=off).")
    try:
        fact, new = await svc.memories.add(who.id, body.text)
    except MemoryFull as exc:
        raise ApiError(409, "memory_full", f"{exc}; delete some first.") from None
    return JSONResponse(_json(fact), status_code=201 if new else 200)


@router.patch("/{memory_id}")
async def edit_memory(memory_id: IdPath, body: NewMemoryBody, svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    """A fact in the user's own words: the same rule as adding one (a fact is saved once)."""
    try:
        fact = await svc.memories.update(who.id, memory_id, body.text)
    except DuplicateFact:
        raise ApiError(409, "memory_exists", "Another saved memory says that already; delete one of them.") from None
    if fact is None:
        raise NOT_FOUND
    return _json(fact)


@router.delete("/{memory_id}", status_code=204)
async def delete_memory(memory_id: IdPath, svc: ServicesDep, who: PrincipalDep) -> Response:
    if not await svc.memories.delete(who.id, memory_id):
        raise NOT_FOUND
    return Response(status_code=204)


@router.delete("", status_code=204)
async def forget_everything(svc: ServicesDep, who: PrincipalDep) -> Response:
    await svc.memories.clear(who.id)
    return Response(status_code=204)
