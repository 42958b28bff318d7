"""Which tools wait for approval (settings), and how the user's answers are checked against what a paused
answer stored (chat/approvals.py) and replayed when retried (chat/replay.py): no server needed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from parlor.accounts import Principal
from parlor.agent import AgentLoop, ToolContext, ToolRegistry, Transcript
from parlor.agent.approval import Decision, Resumption
from parlor.agent.catalog import configured_tools
from parlor.api.wire.ui import ui_parts
from parlor.chat.approvals import ApprovalAnswer, ApprovalMismatch, ApprovalsMissing, ApprovalUnknown, find_paused
from parlor.chat.events import StepStarted, TextChunk, ToolApprovalRequested, ToolDenied, ToolOutput
from parlor.chat.replay import replay
from parlor.config import McpServerConfig, Settings
from parlor.llm import CompletionRequest, LLMMessage, Router
from parlor.llm.types import Delta, FinishDelta, TextDelta, ToolCallDelta
from parlor.messages import (
    ApprovalPart,
    ApprovalState,
    MessageStatus,
    Part,
    StepStartPart,
    StoredMessage,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def _facts(*_: Any) -> dict[str, Any]:
    return {}


def test_built_in_tools_need_approval_by_setting_and_a_bad_name_is_a_clear_error() -> None:
    tools = {t.name: t for t in configured_tools(Settings(approval_tools=["calculator"]), _facts, httpx.AsyncClient())}
    assert tools["calculator"].needs_approval and not tools["current_time"].needs_approval
    with pytest.raises(ValueError, match=r"PARLOR_APPROVAL_TOOLS: calculater is not one of PARLOR_TOOLS"):
        configured_tools(Settings(approval_tools=["calculater"]), _facts, httpx.AsyncClient())


def test_an_mcp_server_needs_approval_for_all_its_tools_or_those_named() -> None:
    every = McpServerConfig(name="files", transport="stdio", command="x", needs_approval=True)
    some = McpServerConfig(name="files", transport="stdio", command="x", needs_approval=["delete"])
    assert every.approves("read") and some.approves("delete") and not some.approves("read")


def paused(*approvals: ApprovalPart, status: MessageStatus = MessageStatus.AWAITING) -> StoredMessage:
    parts: list[Part] = [StepStartPart()]
    for approval in approvals:
        parts += [ToolCallPart(approval.call_id, "send", {"to": "x"}), approval]
    return StoredMessage("a1", None, "assistant", "", tuple(parts), status, NOW)


def asked(n: int, expires: datetime = NOW + timedelta(hours=1)) -> ApprovalPart:
    return ApprovalPart(f"apr_{n}", f"call_{n}", expires)


def user() -> StoredMessage:
    return StoredMessage("u1", "c1", "user", "hi", (TextPart("hi"),), MessageStatus.COMPLETE, NOW)


def test_answers_are_checked_against_the_stored_approvals() -> None:
    recent = [user(), paused(asked(1), asked(2))]
    with pytest.raises(ApprovalUnknown):
        find_paused(recent, [ApprovalAnswer("apr_9", "call_1", True)], NOW)
    with pytest.raises(ApprovalMismatch):
        find_paused(recent, [ApprovalAnswer("apr_1", "call_2", True)], NOW)
    with pytest.raises(ApprovalsMissing):  # the step's two approvals are answered together
        find_paused(recent, [ApprovalAnswer("apr_1", "call_1", True)], NOW)
    with pytest.raises(ApprovalUnknown):
        find_paused([user()], [ApprovalAnswer("apr_1", "call_1", True)], NOW)

    found = find_paused(recent, [ApprovalAnswer("apr_1", "call_1", True),
                                 ApprovalAnswer("apr_2", "call_2", False, "no")], NOW)
    assert found.index == 1 and found.resumption is not None
    states = [(d.call.call_id, d.approval.state, d.approval.reason) for d in found.resumption.decisions]
    assert states == [("call_1", ApprovalState.APPROVED, None), ("call_2", ApprovalState.DENIED, "no")]
    assert found.resumption.steps == 1


def test_a_late_answer_expires_and_an_answered_one_is_a_retry() -> None:
    late = find_paused([user(), paused(asked(1, NOW - timedelta(seconds=1)))],
                       [ApprovalAnswer("apr_1", "call_1", True)], NOW)
    assert late.resumption is not None and late.resumption.decisions[0].approval.state is ApprovalState.EXPIRED
    done = paused(ApprovalPart("apr_1", "call_1", NOW, ApprovalState.APPROVED), status=MessageStatus.COMPLETE)
    assert find_paused([user(), done], [ApprovalAnswer("apr_1", "call_1", True)], NOW).resumption is None


async def test_a_retried_answer_replays_only_what_it_added() -> None:
    parts: tuple[Part, ...] = (
        StepStartPart(), TextPart("Let me check."), ToolCallPart("call_1", "send", {}),
        ApprovalPart("apr_1", "call_1", NOW, ApprovalState.DENIED, "no"), ToolCallPart("call_2", "lookup", {}),
        ToolResultPart("call_2", "lookup", {"ok": 1}),
        ToolResultPart("call_1", "send", error="The user denied this tool call"),  # added by the answer
        StepStartPart(), TextPart("Not sent."))
    message = StoredMessage("a1", None, "assistant", "Not sent.", parts, MessageStatus.COMPLETE, NOW)
    events = [e async for e in replay(message, "t1", "r1", frozenset({"apr_1"}))]
    kinds = [type(e) for e in events[1:-2]]
    assert kinds == [ToolDenied, StepStarted, TextChunk]
    assert not any(isinstance(e, ToolOutput) for e in events)  # the lookup's result streamed before the pause


def test_stored_approvals_are_the_sdk_s_tool_part_states() -> None:
    def shown(state: ApprovalState, result: ToolResultPart | None = None) -> dict[str, Any]:
        parts: list[Part] = [ToolCallPart("c1", "send", {"to": "x"}), ApprovalPart("apr_1", "c1", NOW, state, "no")]
        return ui_parts([*parts, *([result] if result else [])])[0]

    assert shown(ApprovalState.PENDING) == {"type": "tool-send", "toolCallId": "c1", "input": {"to": "x"},
                                            "state": "approval-requested", "approval": {"id": "apr_1"}}
    approved = shown(ApprovalState.APPROVED, ToolResultPart("c1", "send", {"sent": True}))
    assert approved["state"] == "output-available" and approved["approval"] == {"id": "apr_1", "approved": True,
                                                                                 "reason": "no"}
    denied = shown(ApprovalState.DENIED, ToolResultPart("c1", "send", error="The user denied this tool call"))
    assert denied["state"] == "output-denied" and denied["approval"]["approved"] is False
    expired = shown(ApprovalState.EXPIRED, ToolResultPart("c1", "send", error="Approval expired: late"))
    assert expired["state"] == "output-error" and "approval" not in expired


class ToolCaller:
    """A provider that asks for the calculator first, then answers with what the model read back."""

    name, model = "fake", "fake-model"

    def __init__(self) -> None:
        self.seen: list[list[LLMMessage]] = []

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Delta]:
        self.seen.append(list(request.messages))
        if len(self.seen) == 1:
            yield ToolCallDelta(0, '{"expression": "6 * 7"}', "call_1", "calculator")
            yield FinishDelta("tool-calls")
        else:
            yield TextDelta("Done.")
            yield FinishDelta("stop")

    async def aclose(self) -> None:
        return None


async def test_a_turn_s_own_approval_tools_pause_it_and_a_denial_resumes_it() -> None:
    provider, tools = ToolCaller(), ToolRegistry()
    tools.extend(configured_tools(Settings(), _facts, httpx.AsyncClient()))
    loop = AgentLoop(Router([provider]), tools, max_steps=3, approval_seconds=60)
    context = ToolContext(Principal("u1", "ann", "free", "user"), "t1", "r1")
    first = Transcript()
    events = [e async for e in loop.run([LLMMessage("user", "6*7?")], context, first, approval={"calculator"})]
    asked = [e for e in events if isinstance(e, ToolApprovalRequested)]
    assert len(asked) == 1 and first.awaiting and len(provider.seen) == 1  # paused before the tool

    approval = next(p for p in first.parts if isinstance(p, ApprovalPart))
    denied = replace(approval, state=ApprovalState.DENIED, reason="I can count")
    parts = tuple(denied if p is approval else p for p in first.parts)
    call = next(p for p in parts if isinstance(p, ToolCallPart))
    second = Transcript()
    events = [e async for e in loop.run([LLMMessage("user", "6*7?")], context, second,
                                        resume=Resumption(parts, (Decision(call, denied),)))]
    assert any(isinstance(e, ToolDenied) for e in events) and second.text == "Done." and not second.awaiting
    told = [m for m in provider.seen[-1] if m.role == "tool"]
    assert len(told) == 1 and "I can count" in told[0].content
