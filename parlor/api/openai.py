"""`/v1`: an OpenAI-compatible gateway over the configured providers."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from sse_starlette import EventSourceResponse

from parlor.api.context import current_request_id
from parlor.api.deps import PrincipalDep, ServicesDep
from parlor.api.errors import ApiError
from parlor.api.schemas import ChatCompletionBody, OpenAIMessage
from parlor.api.sse import encoded, sse
from parlor.chat import GatewayRequest, UnknownModel
from parlor.chat.encoders import OPENAI_FINISH, OpenAIChunkEncoder, usage_object
from parlor.chat.events import ChatEvent, TextChunk, TurnFailed
from parlor.chat.generation import Generation
from parlor.llm import LLMMessage, ToolCall

router = APIRouter(prefix="/v1", tags=["openai"])
STARTED = int(time.time())


@router.get("/models")
async def models(svc: ServicesDep, _: PrincipalDep) -> dict[str, Any]:
    data = [{"id": p.name, "object": "model", "created": STARTED, "owned_by": "parlor"}
            for p in svc.gateway.models()]
    return {"object": "list", "data": data}


@router.post("/chat/completions", response_model=None)
async def chat_completions(body: ChatCompletionBody, svc: ServicesDep,
                           who: PrincipalDep) -> EventSourceResponse | dict[str, Any]:
    stop = [body.stop] if isinstance(body.stop, str) else body.stop or []
    request = GatewayRequest(principal=who, request_id=current_request_id(), model=body.model,
                             messages=[_message(m) for m in body.messages], temperature=body.temperature,
                             max_tokens=body.max_completion_tokens or body.max_tokens, stop=stop)
    try:
        generation = svc.gateway.generation(request)
    except UnknownModel:
        raise ApiError(404, "model_not_found", f"The model {body.model!r} does not exist here.") from None
    completion_id = "chatcmpl-" + request.request_id
    if body.stream:
        include_usage = bool((body.stream_options or {}).get("include_usage"))
        encoder = OpenAIChunkEncoder(completion_id, body.model, include_usage)
        return sse(encoded(svc.gateway.run(request, generation),
                           lambda event: encoder.encode(event, generation.tokens())))
    events = [event async for event in svc.gateway.run(request, generation)]
    return _completion(completion_id, body.model, events, generation)


def _completion(completion_id: str, model: str, events: list[ChatEvent], generation: Generation) -> dict[str, Any]:
    failure = next((e for e in events if isinstance(e, TurnFailed)), None)
    if failure is not None:
        status = 503 if failure.code == "providers_unavailable" else 502
        raise ApiError(status, failure.code, failure.message)
    text = "".join(e.text for e in events if isinstance(e, TextChunk))
    return {
        "id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": OPENAI_FINISH[generation.finish_reason]}],
        "usage": usage_object(generation.tokens()),
    }


def _message(message: OpenAIMessage) -> LLMMessage:
    role = "system" if message.role == "developer" else message.role
    calls = tuple(
        ToolCall(str(c.get("id", "")), str((c.get("function") or {}).get("name", "")),
                 str((c.get("function") or {}).get("arguments", "")))
        for c in message.tool_calls or []
    )
    return LLMMessage(role, message.text(), calls, message.tool_call_id)



