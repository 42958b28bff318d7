"""The tool-calling loop: the model answers, or asks for tools; tools run (concurrently within a
step), their results go back to the model, and so on until it answers or the step budget is spent."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from typing import Any

from parlor.agent.events import (
    AgentEvent,
    CallSent,
    ReasoningChunk,
    ReasoningEnded,
    SourceFound,
    StepFinished,
    StepStarted,
    TextChunk,
    ToolCallChunk,
    ToolFailed,
    ToolInputDelta,
    ToolInputInvalid,
    ToolInputReady,
    ToolInputStarted,
    ToolOutput,
)
from parlor.agent.generation import Generation
from parlor.agent.tools import ToolContext, ToolError, ToolRegistry, ToolResult
from parlor.agent.transcript import Transcript
from parlor.llm import CompletionRequest, LLMMessage, Router, ThoughtfulMessage, ToolCall
from parlor.observability.tracing import traced_tool

LAST_STEP = ("You have used every tool step this turn allows. Do not call tools; answer the user now "
             "with what you have, and say briefly what you could not finish.")


@dataclass
class PendingCall:
    id: str
    name: str = ""
    arguments: str = ""


class AgentLoop:
    def __init__(self, router: Router, tools: ToolRegistry, max_steps: int):
        self._router = router
        self._tools = tools
        self._max_steps = max_steps

    async def run(self, history: list[LLMMessage], context: ToolContext, transcript: Transcript,
                  max_tokens: int | None = None, *, temperature: float | None = None, provider: str | None = None,
                  tools: Collection[str] | None = None) -> AsyncIterator[AgentEvent]:
        """Streams the turn's events; `transcript` holds the outcome (an error ends it with error_code).
        `temperature`, `provider` (tried first), `tools` (the ones offered; None: all): an experiment's."""
        messages = list(history)
        first = self._router.find(provider) if provider is not None else None
        for step in range(self._max_steps + 1):
            last = step == self._max_steps
            specs = [] if last else [s for s in self._tools.specs() if tools is None or s.name in tools]
            if last:
                messages.append(LLMMessage("system", LAST_STEP))
            yield StepStarted()
            transcript.start_step()
            generation = Generation(self._router, CompletionRequest(messages, tools=specs, max_tokens=max_tokens,
                                                                    temperature=temperature,
                                                                    request_id=context.request_id,
                                                                    untrusted_tool_results=bool(self._tools.tools)),
                                    first=first)
            calls: dict[int, PendingCall] = {}
            step_text: list[str] = []
            async for event in generation.events():
                if not isinstance(event, ReasoningChunk | CallSent) and (
                        thought_ms := transcript.end_reasoning()) is not None:
                    yield ReasoningEnded(thought_ms)
                if isinstance(event, TextChunk):
                    step_text.append(event.text)
                    transcript.add_text(event.text)
                    yield event
                elif isinstance(event, ReasoningChunk):
                    transcript.add_reasoning(event.text)
                    yield event
                elif isinstance(event, ToolCallChunk) and specs:
                    for out in _assemble(calls, event):
                        yield out
                elif isinstance(event, CallSent):
                    yield event
            if (thought_ms := transcript.end_reasoning()) is not None:
                yield ReasoningEnded(thought_ms)
            transcript.absorb(generation)
            if generation.error_code or not calls:
                if not generation.error_code:
                    yield StepFinished()
                return
            # this step's reasoning blocks go with it, for a provider that wants them back (Anthropic's)
            messages.append(ThoughtfulMessage("assistant", "".join(step_text), tuple(
                ToolCall(c.id, c.name, c.arguments) for c in calls.values()), thoughts=tuple(generation.thoughts)))
            async for out in self._run_tools(list(calls.values()), context, transcript, messages,
                                             {s.name for s in specs}):
                yield out
            yield StepFinished()

    async def _run_tools(self, calls: list[PendingCall], context: ToolContext, transcript: Transcript,
                         messages: list[LLMMessage], offered: set[str]) -> AsyncIterator[AgentEvent]:
        results: dict[str, ToolResult] = {}
        inputs: dict[str, Any] = {}
        running: dict[asyncio.Task[ToolResult], str] = {}
        try:
            for call in calls:
                try:
                    if call.name not in offered:  # a tool this turn did not offer is not run
                        raise ToolError(f"there is no tool named {call.name!r}; available: "
                                        f"{', '.join(sorted(offered)) or 'none'}")
                    inputs[call.id], arguments = self._tools.parse(call.name, call.arguments)
                except ToolError as exc:
                    inputs[call.id] = call.arguments
                    results[call.id] = ToolResult(False, str(exc), 0.0)
                    yield ToolInputInvalid(call.id, call.name, call.arguments, str(exc))
                    continue
                yield ToolInputReady(call.id, call.name, inputs[call.id])
                running[asyncio.create_task(traced_tool(call.id, call.name,
                                                        self._tools.call(call.name, arguments, context)))] = call.id
            pending = set(running)
            while pending:  # results stream out as each tool finishes
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    call_id, result = running[task], task.result()
                    results[call_id] = result
                    yield (ToolOutput(call_id, result.output, result.duration_ms) if result.ok
                           else ToolFailed(call_id, str(result.output), result.duration_ms))
                    for source in result.sources:
                        yield SourceFound(source)
        finally:
            for task in running:
                task.cancel()
        for call in calls:
            transcript.add_tool(call.id, call.name, inputs[call.id], results[call.id])
            messages.append(results[call.id].for_model(call.id, call.name))


def _assemble(calls: dict[int, PendingCall], chunk: ToolCallChunk) -> list[AgentEvent]:
    """Joins argument fragments by index; announces a call once its name is known."""
    events: list[AgentEvent] = []
    call = calls.get(chunk.index)
    if call is None:
        call = calls[chunk.index] = PendingCall(chunk.id or f"call_{uuid.uuid4().hex[:24]}")
    if chunk.name and not call.name:
        call.name = chunk.name
        events.append(ToolInputStarted(call.id, call.name))
    if chunk.arguments:
        call.arguments += chunk.arguments
        if call.name:
            events.append(ToolInputDelta(call.id, chunk.arguments))
    return events
