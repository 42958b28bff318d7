"""Feedback on answers: `POST /api/messages/{message_id}/feedback` with `{"rating": "up" | "down" | null,
"comment": string | null}` (a null rating clears it), on the caller's own assistant messages only."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import ConfigDict, Field

from parlor.api.deps import PrincipalDep, ServicesDep
from parlor.api.errors import ApiError
from parlor.api.inputs import RequestBody
from parlor.experiments import MessageNotFound

router = APIRouter(prefix="/api/messages", tags=["feedback"])
MessageId = Annotated[str, Path(min_length=1, max_length=36)]


class FeedbackBody(RequestBody):
    model_config = ConfigDict(extra="forbid")
    rating: Literal["up", "down"] | None
    comment: str | None = Field(default=None, max_length=2000)


@router.post("/{message_id}/feedback")
async def rate_message(message_id: MessageId, body: FeedbackBody, svc: ServicesDep,
                       who: PrincipalDep) -> dict[str, Any]:
    try:
        record = await svc.experiments.feedback.rate(who.id, message_id, body.rating,
                                                     body.comment.strip() if body.comment else None)
    except MessageNotFound:
        raise ApiError(404, "message_not_found", "No such answer of yours.") from None
    return record.as_json()
