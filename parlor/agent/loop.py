"""The tool-calling loop: the model answers, or asks for tools; tools run (concurrently within a
step), their results go back to the model, and so on until it answers or the step budget is spent."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from parlor.agent.approval import Resumption, new_approval, refused
from parlor.agent.events import (
    AgentEvent,
    CallSent,
    ReasoningChunk,
    ReasoningEnded,
    SourceFound,
    StepFinished,
    StepStarted,
    TextChunk,
    ToolApprovalRequested,
    ToolCallChunk,
    ToolDenied,
    ToolFailed,
    ToolInputDelta,
    ToolInputInvalid,
    ToolInputReady,
    ToolInputStarted,
    ToolOutput,
)
from parlor.agent.generation import Generation
from parlor.agent.tools import ToolContext, ToolError, ToolRegistry, ToolResult
from parlor.agent.transcript import Transcript, parts_to_messages
from parlor.llm import CompletionRequest, LLMMessage, Router, ThoughtfulMessage, ToolCall
from parlor.messages import ApprovalState
from parlor.observability.tracing import traced_tool

LAST_STEP = ("You have used every tool step this turn allows. Do not call tools; answer the user now "
             "with what you have, and say briefly what you could not finish.")


@dataclass
class PendingCall:
    id: str
    name: str = ""
    arguments: str = ""


class AgentLoop:
    def __init__(self, router: Router, tools: ToolRegistry, max_steps: int, approval_seconds: float = 3600.0):
        self._router = router
        self._tools = tools
        self._max_steps = max_steps
        self._approval_seconds = approval_seconds  # how long a paused call waits for the user's answer

    async def run(self, history: list[LLMMessage], context: ToolContext, transcript: Transcript,
                  max_tokens: int | None = None, *, temperature: float | None = None, provider: str | None = None,
                  tools: Collection[str] | None = None, approval: Collection[str] = (),
                  resume: Resumption | None = None) -> AsyncIterator[AgentEvent]:
        """Streams the turn's events; `transcript` holds the outcome (an error ends it with error_code).
        `temperature`, `provider` (tried first), `tools` (the ones offered; None: all): an experiment's.
        `approval`: tools that wait for the user's yes or no this turn, besides those that always do: the turn
        pauses before them (transcript.awaiting). `resume`: a paused answer the user answered, to go on with."""
        messages = list(history)
        first = self._router.find(provider) if provider is not None else None
        start = 0
        if resume is not None:
            transcript.resume(resume.parts)
            async for out in self._settle(resume, context, transcript):
                yield out
            messages += parts_to_messages(transcript.parts)
            start = min(resume.steps, self._max_steps)
        for step in range(start, self._max_steps + 1):
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
                                             {s.name for s in specs}, set(approval)):
                yield out
            yield StepFinished()
            if transcript.awaiting:  # paused: the user's answer resumes the turn (another request)
                return

    async def _settle(self, resume: Resumption, context: ToolContext,
                      transcript: Transcript) -> AsyncIterator[AgentEvent]:
        """The paused calls, now answered: an approved one runs (once: its answer is claimed before the turn
        starts, chat/service.py); a denied or expired one does not, and the model reads why."""
        for decision in resume.decisions:
            call, approval = decision.call, decision.approval
            if approval.state is ApprovalState.APPROVED:
                try:
                    _, arguments = self._tools.parse(call.name, orjson.dumps(call.input).decode())
                    result = await traced_tool(call.call_id, call.name,
                                               self._tools.call(call.name, arguments, context))
                except ToolError as exc:  # the tool is gone since (a changed configuration)
                    result = ToolResult(False, str(exc), 0.0)
                yield (ToolOutput(call.call_id, result.output, result.duration_ms) if result.ok
                       else ToolFailed(call.call_id, str(result.output), result.duration_ms))
                for source in result.sources:
                    yield SourceFound(source)
            else:
                result = refused(approval, self._approval_seconds)
                yield (ToolDenied(call.call_id, approval.reason) if approval.state is ApprovalState.DENIED
                       else ToolFailed(call.call_id, str(result.output), 0.0))
            transcript.add_result(call.call_id, call.name, result)

    async def _run_tools(self, calls: list[PendingCall], context: ToolContext, transcript: Transcript,
                         messages: list[LLMMessage], offered: set[str],
                         approval: set[str]) -> AsyncIterator[AgentEvent]:
        """Runs the step's calls; one that needs approval is asked for instead, and the rest run now: the
        AI SDK sends the user's answers only once every other call of the step has its result."""
        results: dict[str, ToolResult] = {}
        inputs: dict[str, Any] = {}
        held: dict[str, Any] = {}  # call id: its approval part
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
                if call.name in approval or self._tools.needs_approval(call.name):
                    held[call.id] = new_approval(call.id, datetime.now(UTC) + timedelta(seconds=self._approval_seconds))
                    yield ToolApprovalRequested(call.id, held[call.id].approval_id)
                    continue
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
            if call.id in held:
                transcript.add_pending(call.id, call.name, inputs[call.id], held[call.id])
                continue
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
