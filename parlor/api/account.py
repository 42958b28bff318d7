"""The caller's data rights: export all of it as JSON, or delete the account with everything it owns."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Response
from pydantic import Field

from parlor.accounts.data import DocumentsUnavailable
from parlor.api.deps import PrincipalDep, ServicesDep
from parlor.api.errors import ApiError
from parlor.api.inputs import RequestBody

router = APIRouter(prefix="/api/account", tags=["account"])


class DeleteAccountBody(RequestBody):
    confirm: str = Field(max_length=200, description="Your user name, typed again: the deletion cannot be undone.")


@router.get("/export")
async def export_account(svc: ServicesDep, who: PrincipalDep) -> Response:
    """Everything the caller owns: profile, keys (never the keys), threads with messages, documents'
    metadata, memories, usage, runs, feedback and any other table that names them."""
    body = orjson.dumps(await svc.data.export(who.id), default=str,
                        option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    filename = f"parlor-export-{who.id}.json"
    return Response(body, media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


@router.delete("")
async def delete_account(body: DeleteAccountBody, svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    """Deletes the caller and everything they own: threads, messages, documents with their files, chunks and
    vectors, memories, usage, runs, keys; a reply being generated is stopped first. `confirm` must be the
    account's name."""
    if not svc.auth.keys_required:
        raise ApiError(409, "auth_off", "With PARLOR_AUTH=off there is one shared account; it cannot be deleted.")
    if body.confirm != who.name:
        raise ApiError(422, "confirmation_mismatch", "Type your user name in `confirm` to delete your account.")
    await svc.chat.stop_user(who.id)  # a reply under way would write the user's rows again after the delete
    try:
        deleted = await svc.data.delete(who.id)
    except DocumentsUnavailable as exc:
        raise ApiError(503, "knowledge_unavailable", f"Nothing was deleted: {exc}. Try again later.") from None
    return {"deleted": True, "rows": deleted}
