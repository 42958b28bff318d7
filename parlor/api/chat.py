"""`POST /api/chat`: the AI SDK UI message stream."""

from __future__ import annotations

from fastapi import APIRouter
from sse_starlette import EventSourceResponse

from parlor.api.context import current_request_id
from parlor.api.deps import PrincipalDep, ServicesDep
from parlor.api.errors import ApiError
from parlor.api.schemas import ChatBody
from parlor.api.sse import ui_stream
from parlor.chat import Run, ThreadBusy, TurnRequest
from parlor.memory import ThreadNotFound

router = APIRouter(tags=["chat"])


def _cancel(run: Run) -> None:
    run.cancel()  # until resumable streams land, a client going away aborts its generation


@router.post("/api/chat", response_class=EventSourceResponse)
async def chat(body: ChatBody, svc: ServicesDep, who: PrincipalDep) -> EventSourceResponse:
    newest = next((m for m in reversed(body.messages) if m.role == "user"), None)
    if newest is None:
        raise ApiError(422, "no_user_message", "The request has no user message.")
    text = newest.text()
    if not text.strip():
        raise ApiError(422, "empty_message", "The message is empty.")
    if len(text) > svc.settings.max_message_chars:
        raise ApiError(413, "message_too_long",
                       f"The message is over {svc.settings.max_message_chars} characters.")
    request = TurnRequest(principal=who, thread_id=body.id, client_message_id=newest.id, text=text,
                          request_id=current_request_id(), regenerate=body.trigger == "regenerate-message")
    try:
        run = await svc.chat.submit(request)
    except ThreadNotFound:
        raise ApiError(404, "thread_not_found", "No such thread.") from None
    except ThreadBusy:
        raise ApiError(409, "thread_busy", "This thread is already answering; stop it or wait.") from None
    return ui_stream(run, _cancel)
