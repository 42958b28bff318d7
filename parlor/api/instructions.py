"""The caller's custom instructions (`GET/PUT /api/me/instructions`): about them, and how to answer.

Both go into every one of the user's system prompts, within PARLOR_INSTRUCTION_TOKENS."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from parlor.accounts.keys import iso
from parlor.api.deps import PrincipalDep, ServicesDep
from parlor.api.errors import ApiError
from parlor.api.inputs import RequestBody
from parlor.memory.instructions import MAX_INSTRUCTION_CHARS, Instructions, InstructionsTooLong

router = APIRouter(prefix="/api/me", tags=["instructions"])


class InstructionsBody(RequestBody):
    about: str = Field(default="", max_length=MAX_INSTRUCTION_CHARS)  # what the model should know about them
    style: str = Field(default="", max_length=MAX_INSTRUCTION_CHARS)  # how they want it to answer


def _json(found: Instructions, max_tokens: int) -> dict[str, Any]:
    return {"about": found.about, "style": found.style, "tokens": found.tokens, "max_tokens": max_tokens,
            "max_chars": MAX_INSTRUCTION_CHARS,
            "updated_at": iso(found.updated_at) if found.updated_at else None}


@router.get("/instructions")
async def get_instructions(svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    return _json(await svc.instructions.get(who.id), svc.instructions.max_tokens)


@router.put("/instructions")
async def put_instructions(body: InstructionsBody, svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    """Replaces both texts (two empty ones clear them)."""
    try:
        saved = await svc.instructions.put(who.id, body.about, body.style)
    except InstructionsTooLong as exc:
        raise ApiError(422, "instructions_too_long", f"Your instructions are {exc.tokens} tokens long; at most "
                       f"{exc.limit} fit (PARLOR_INSTRUCTION_TOKENS). Shorten them.") from None
    return _json(saved, svc.instructions.max_tokens)
