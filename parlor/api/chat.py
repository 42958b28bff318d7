"""`POST /api/chat`: the AI SDK UI message stream."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sse_starlette import EventSourceResponse

from parlor.api.context import current_request_id
from parlor.api.deps import LimitedDep, PrincipalDep, Services, ServicesDep, requests_left
from parlor.api.errors import ApiError
from parlor.api.files import checked
from parlor.api.schemas import ChatBody, IdPath, UIPart
from parlor.api.sse import ui_stream
from parlor.assistants.types import AssistantUnavailable
from parlor.attachments import AttachmentsUnavailable, Upload
from parlor.attachments.intake import FileIn
from parlor.attachments.store import ROUTE
from parlor.chat import ImagesUnreadable, Run, ThreadBusy, TurnRequest, UnknownModel
from parlor.chat.approvals import ApprovalAnswer, ApprovalProblem, ApprovalUnknown
from parlor.chat.service import TurnStream
from parlor.memory import ThreadNotFound

router = APIRouter(tags=["chat"])
MAX_REASON_CHARS = 2000  # of a denial's reason (the model reads it)


def _keep(run: Run) -> None:
    """A client that went away may resume: the generation runs on (PARLOR_ON_DISCONNECT=continue)."""


def _cancel(run: Run) -> None:
    run.cancel()  # PARLOR_ON_DISCONNECT=cancel: a client going away aborts its generation


def _respond(svc: Services, stream: TurnStream) -> EventSourceResponse:
    on_disconnect = _cancel if svc.settings.on_disconnect == "cancel" else _keep
    return ui_stream(stream, on_disconnect, svc.settings.drain_seconds, svc.settings.stream_pace_ms / 1000)


@router.post("/api/chat", response_class=EventSourceResponse)
async def chat(body: ChatBody, http: Request, svc: ServicesDep, who: LimitedDep) -> EventSourceResponse:
    if svc.drain.started:
        raise ApiError(503, "shutting_down", "This server is shutting down; retry in a moment.",
                       {"Retry-After": "1"})
    newest = next((m for m in reversed(body.messages) if m.role == "user"), None)
    if newest is None:
        raise ApiError(422, "no_user_message", "The request has no user message.")
    text = newest.text()
    approvals = _approvals(body)  # the user answered the last answer's approvals: it goes on
    # (its question was taken already: the web UI leaves out its images, which may have been all it held)
    if not text.strip() and not newest.files() and not approvals:
        raise ApiError(422, "empty_message", "The message is empty.")
    if len(text) > svc.settings.max_message_chars:
        raise ApiError(413, "message_too_long",
                       f"The message is over {svc.settings.max_message_chars} characters.")
    # useChat's sendMessage({messageId}) replaces that user message: edit and resend
    edit = body.trigger == "submit-message" and body.messageId == newest.id
    fresh = body.trigger == "submit-message" and not approvals  # a new message, whose files are new
    request = TurnRequest(principal=who, thread_id=body.id, client_message_id=newest.id, text=text,
                          files=await _uploads(newest.files(), svc) if fresh else (), approvals=approvals,
                          kept_files=_stored(newest.files()) if edit else (),
                          request_id=current_request_id(), regenerate=body.trigger == "regenerate-message",
                          edit=edit, requests_left=requests_left(http), model=body.model, assistant=body.assistant)
    try:
        stream = await svc.chat.submit(request)
    except ThreadNotFound:
        raise ApiError(404, "thread_not_found", "No such thread.") from None
    except ThreadBusy:
        raise ApiError(409, "thread_busy", "This thread is already answering; stop it or wait.") from None
    except UnknownModel:
        raise ApiError(422, "unknown_model", f"There is no model {body.model!r} here (see GET /api/models).") from None
    except AttachmentsUnavailable:
        raise ApiError(503, "attachments_unavailable", "The message's files could not be stored; try again in a "
                       "moment.", {"Retry-After": "5"}) from None
    except AssistantUnavailable:
        raise ApiError(422, "assistant_unavailable", "This chat's assistant is not available to you (there is no "
                       "such assistant, or its owner deleted it or stopped sharing it); the chat stays readable: "
                       "start a new one.") from None
    except ImagesUnreadable:
        raise ApiError(422, "model_cannot_read_images", "The model cannot read images or PDFs: remove them from "
                       "the message (a PDF can be uploaded as a document to search it instead).") from None
    except ApprovalProblem as exc:
        status = 409 if isinstance(exc, ApprovalUnknown) else 422
        raise ApiError(status, exc.code, str(exc)) from None
    return _respond(svc, stream)


def _approvals(body: ChatBody) -> tuple[ApprovalAnswer, ...]:
    """The answers useChat sends after `addToolApprovalResponse`: the last message is the assistant's, its
    answered tool parts `approval-responded` (README "Tool approval")."""
    last = body.messages[-1]
    if last.role != "assistant":
        return ()
    answers = []
    for part in last.parts:
        extra = part.model_extra or {}
        if extra.get("state") != "approval-responded":
            continue
        approval, call_id = extra.get("approval"), extra.get("toolCallId")
        if not (isinstance(approval, dict) and isinstance(approval.get("id"), str) and isinstance(call_id, str)
                and isinstance(approval.get("approved"), bool)
                and isinstance(approval.get("reason"), str | None)):
            raise ApiError(422, "invalid_approval", "An answered approval needs toolCallId, approval.id, "
                           "approval.approved (true or false) and, optionally, approval.reason (text).")
        reason = (approval.get("reason") or "").strip()[:MAX_REASON_CHARS] or None
        answers.append(ApprovalAnswer(approval["id"][:128], call_id[:128], approval["approved"], reason))
    return tuple(answers)


def _stored(parts: list[UIPart]) -> tuple[str, ...]:
    """The URLs of the parts that name files already stored (an edited message keeps those it still lists)."""
    return tuple(p.url for p in parts if p.url and p.url.startswith(ROUTE))


async def _uploads(parts: list[UIPart], svc: Services) -> tuple[Upload, ...]:
    """The message's new file parts, checked and cleaned. Parts that already name a stored file (a message
    resent as a reloaded thread holds it) are kept as they are stored."""
    files = [FileIn(p.mediaType or "", p.url or "", p.filename) for p in parts if not (p.url or "").startswith(ROUTE)]
    return await checked(files, svc.settings)


@router.get("/api/chat/{thread_id}/stream", response_model=None, response_class=EventSourceResponse,
            responses={204: {"description": "No generation is under way in this thread."}})
async def resume(thread_id: IdPath, svc: ServicesDep, who: PrincipalDep) -> EventSourceResponse | Response:
    """What `useChat({resume: true})` calls: the generation under way, from its start, or 204."""
    stream = await svc.chat.resume(who, thread_id)
    return _respond(svc, stream) if stream is not None else Response(status_code=204)


@router.post("/api/chat/{thread_id}/stop", status_code=204)
async def stop(thread_id: IdPath, svc: ServicesDep, who: PrincipalDep) -> Response:
    """Stops the thread's generation on whichever replica runs it; the partial answer is kept."""
    await svc.chat.stop(who, thread_id)
    return Response(status_code=204)
