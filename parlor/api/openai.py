"""`/v1`: an OpenAI-compatible gateway over the configured providers."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header
from sse_starlette import EventSourceResponse

from parlor.api.context import current_request_id
from parlor.api.deps import LimitedDep, PrincipalDep, ServicesDep
from parlor.api.errors import ApiError
from parlor.api.schemas import ChatCompletionBody, OpenAIMessage
from parlor.api.sse import encoded, sse
from parlor.chat import GatewayRequest, Run, UnknownModel
from parlor.chat.encoders import OPENAI_FINISH, OpenAIChunkEncoder, finished_usage, usage_object
from parlor.chat.events import ChatEvent, TextChunk, ToolCallChunk, TurnFailed, TurnFinished
from parlor.llm import LLMMessage, ToolCall
from parlor.llm.types import ToolSpec

router = APIRouter(prefix="/v1", tags=["openai"])
STARTED = int(time.time())


@router.get("/models")
async def models(svc: ServicesDep, _: PrincipalDep) -> dict[str, Any]:
    data = [{"id": p.name, "object": "model", "created": STARTED, "owned_by": "parlor"}
            for p in svc.gateway.models()]
    return {"object": "list", "data": data}


@router.post("/chat/completions", response_model=None)
async def chat_completions(body: ChatCompletionBody, svc: ServicesDep, who: LimitedDep,
                           idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
                           ) -> EventSourceResponse | dict[str, Any]:
    stop = [body.stop] if isinstance(body.stop, str) else body.stop or []
    request = GatewayRequest(principal=who, request_id=current_request_id(), model=body.model,
                             messages=[_message(m) for m in body.messages], temperature=body.temperature,
                             max_tokens=body.max_completion_tokens or body.max_tokens, stop=stop,
                             tools=[ToolSpec(t.function.name, t.function.description, t.function.parameters)
                                    for t in body.tools or []],
                             tool_choice=body.tool_choice)
    try:
        generation = svc.gateway.generation(request)
    except UnknownModel:
        raise ApiError(404, "model_not_found", f"The model {body.model!r} does not exist here.") from None
    reservation = await svc.gateway.reserve(request, generation)
    run = svc.gateway.start(request, generation, reservation, idempotency_key)
    completion_id = "chatcmpl-" + run.key[1]
    if body.stream:
        include_usage = bool((body.stream_options or {}).get("include_usage"))
        encoder = OpenAIChunkEncoder(completion_id, body.model, include_usage)
        return sse(encoded(run.follow(), encoder.encode))
    return _completion(completion_id, body.model, [event async for event in _events(run)])


async def _events(run: Run) -> AsyncIterator[ChatEvent]:
    async for batch in run.follow():
        for event in batch:
            yield event


def _completion(completion_id: str, model: str, events: list[ChatEvent]) -> dict[str, Any]:
    failure = next((e for e in events if isinstance(e, TurnFailed)), None)
    if failure is not None:
        status = 503 if failure.code in ("providers_unavailable", "local_model_busy") else 502
        raise ApiError(status, failure.code, failure.message)
    text = "".join(e.text for e in events if isinstance(e, TextChunk))
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls := _tool_calls([e for e in events if isinstance(e, ToolCallChunk)]):
        message["tool_calls"] = calls
    finished = next(e for e in events if isinstance(e, TurnFinished))
    return {
        "id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": OPENAI_FINISH[finished.finish_reason]}],
        "usage": usage_object(finished_usage(finished)),
    }


def _tool_calls(fragments: list[ToolCallChunk]) -> list[dict[str, Any]]:
    """Joins streamed tool-call fragments (by index) into whole calls."""
    calls: dict[int, dict[str, Any]] = {}
    for fragment in fragments:
        call = calls.setdefault(fragment.index, {"id": "", "type": "function",
                                                 "function": {"name": "", "arguments": ""}})
        call["id"] = fragment.id or call["id"]
        call["function"]["name"] = fragment.name or call["function"]["name"]
        call["function"]["arguments"] += fragment.arguments
    return [calls[index] for index in sorted(calls)]


def _message(message: OpenAIMessage) -> LLMMessage:
    role = "system" if message.role == "developer" else message.role
    calls = tuple(
        ToolCall(str(c.get("id", "")), str((c.get("function") or {}).get("name", "")),
                 str((c.get("function") or {}).get("arguments", "")))
        for c in message.tool_calls or []
    )
    return LLMMessage(role, message.text(), calls, message.tool_call_id)



