"""`/v1`: an OpenAI-compatible gateway over the configured providers."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Header
from sse_starlette import EventSourceResponse

from parlor.accounts import Principal
from parlor.api.context import current_request_id
from parlor.api.deps import LimitedDep, PrincipalDep, Services, ServicesDep
from parlor.api.errors import ApiError
from parlor.api.files import checked
from parlor.api.schemas import ChatCompletionBody, OpenAIMessage
from parlor.api.sse import encoded, sse
from parlor.api.wire.openai import ChunkEncoder, completion, files_in, llm_message
from parlor.assistants.types import AssistantUnavailable
from parlor.chat import GatewayRequest, ImagesUnreadable, UnknownModel
from parlor.llm.types import LLMMessage, ToolSpec

router = APIRouter(prefix="/v1", tags=["openai"])
STARTED = int(time.time())
ASSISTANT = "assistant:"  # a model name that addresses an assistant: its instructions, its model


@router.get("/models")
async def models(svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    """What GET /api/models lists for the caller, OpenAI-shaped: an id is a `model` to send."""
    data = [{"id": m.id, "object": "model", "created": STARTED, "owned_by": "parlor"}
            for m in svc.models.for_tier(who.tier)]
    data += [{"id": ASSISTANT + a.id, "object": "model", "created": int(a.created_at.timestamp()),
              "owned_by": a.owner.name} for a in await svc.assistants.visible(who)]
    return {"object": "list", "data": data}


async def _assistant(svc: Services, who: Principal, name: str,
                     messages: list[LLMMessage]) -> tuple[str, list[LLMMessage], bool]:
    """`assistant:<id>`: the model it uses, and the messages: its instructions, the client's, and what its
    knowledge search found for the last user message. An assistant the caller may not see is a model that
    does not exist. The flag: whether a tool of Parlor's ran (its result is outside text for the model)."""
    missing = ApiError(404, "model_not_found", f"The model {name!r} does not exist here.")
    try:
        assistant = await svc.assistants.for_turn(who, name.removeprefix(ASSISTANT))
    except AssistantUnavailable:
        raise missing from None
    model = svc.assistants.model_for(who, assistant)
    if model is None:
        raise missing
    instructions = [LLMMessage("system", assistant.instructions)] if assistant.instructions.strip() else []
    question = messages[-1].content if messages and messages[-1].role == "user" else ""
    found = await svc.assistants.briefing(who, assistant, question, current_request_id())
    return model, [*instructions, *messages, *found], bool(found)


async def _message(message: OpenAIMessage, svc: Services) -> LLMMessage:
    """A message as the model gets it: a user message's images and PDFs checked like the chat's, sent as
    they came (nothing of a `/v1` call is stored)."""
    llm = llm_message(message)
    if message.role != "user" or not (files := files_in(message)):
        return llm
    return replace(llm, files=tuple(upload.inline() for upload in await checked(files, svc.settings)))


@router.post("/chat/completions", response_model=None)
async def chat_completions(body: ChatCompletionBody, svc: ServicesDep, who: LimitedDep,
                           idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
                           ) -> EventSourceResponse | dict[str, Any]:
    """With an `Idempotency-Key`, a retry (on any replica, within 10 minutes) gets the first call's
    answer, from its start, instead of a second model call: a client cut off mid-stream resumes so."""
    stop = [body.stop] if isinstance(body.stop, str) else body.stop or []
    model, messages, searched = body.model, [await _message(m, svc) for m in body.messages], False
    if model.startswith(ASSISTANT):
        model, messages, searched = await _assistant(svc, who, body.model, messages)
    request = GatewayRequest(principal=who, request_id=current_request_id(), model=model,
                             messages=messages, temperature=body.temperature,
                             max_tokens=body.max_completion_tokens or body.max_tokens, stop=stop,
                             tools=[ToolSpec(t.function.name, t.function.description, t.function.parameters)
                                    for t in body.tools or []],
                             tool_choice=body.tool_choice, untrusted_tool_results=searched)
    try:
        generation = svc.gateway.generation(request)
    except UnknownModel:
        raise ApiError(404, "model_not_found", f"The model {body.model!r} does not exist here.") from None
    except ImagesUnreadable:
        raise ApiError(422, "model_cannot_read_images", f"The model {body.model!r} cannot read images or PDFs: "
                       "name one that can (GET /api/models says which).") from None
    reservation = await svc.gateway.reserve(request, generation)
    run_id, batches = await svc.gateway.start(request, generation, reservation, idempotency_key)
    completion_id = "chatcmpl-" + run_id
    if body.stream:
        include_usage = bool((body.stream_options or {}).get("include_usage"))
        return sse(encoded(batches, ChunkEncoder(completion_id, body.model, include_usage).encode))
    return completion(completion_id, body.model, [event async for batch in batches for event in batch])
