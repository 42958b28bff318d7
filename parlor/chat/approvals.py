"""The user's answers to a paused answer's approvals, checked against what is stored: the thread's last
answer asked for them (by id, for that call), each one it still waits for is answered, and an answer after
its expiry counts as expired. Answers to approvals already answered mean a retried request: replayed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from parlor.agent.approval import Decision, Resumption
from parlor.messages import ApprovalPart, ApprovalState, Part, StoredMessage, ToolCallPart


@dataclass(frozen=True, slots=True)
class ApprovalAnswer:
    """One approval as the client answered it (useChat's `addToolApprovalResponse`)."""

    approval_id: str
    call_id: str
    approved: bool
    reason: str | None = None


class ApprovalProblem(Exception):
    """An answer that does not fit the stored approvals (`code` says how)."""

    code = "approval_invalid"


class ApprovalUnknown(ApprovalProblem):
    code = "approval_not_found"


class ApprovalMismatch(ApprovalProblem):
    code = "approval_mismatch"


class ApprovalsMissing(ApprovalProblem):
    code = "approval_missing"


@dataclass(frozen=True, slots=True)
class Paused:
    """The answer the approvals belong to, and where it is in the thread's window. `resumption` is None
    when they were answered already (a retried request)."""

    message: StoredMessage
    index: int
    resumption: Resumption | None


def find_paused(recent: Sequence[StoredMessage], answers: Sequence[ApprovalAnswer], now: datetime) -> Paused:
    """Raises ApprovalUnknown (not asked by the thread's last answer), ApprovalMismatch (asked for another
    call) or ApprovalsMissing (some approval it waits for is not answered)."""
    index = next((i for i in range(len(recent) - 1, -1, -1) if recent[i].role == "assistant"), None)
    if index is None:
        raise ApprovalUnknown("This thread has no answer waiting for approval.")
    message = recent[index]
    asked = {p.approval_id: p for p in message.parts if isinstance(p, ApprovalPart)}
    for answer in answers:
        approval = asked.get(answer.approval_id)
        if approval is None:
            raise ApprovalUnknown(f"The approval {answer.approval_id!r} is not one this thread's last answer "
                                  "asked for.")
        if approval.call_id != answer.call_id:
            raise ApprovalMismatch(f"The approval {answer.approval_id!r} is for the tool call {approval.call_id!r}, "
                                   f"not {answer.call_id!r}.")
    given = {a.approval_id: a for a in answers}
    pending = [p for p in asked.values() if p.state is ApprovalState.PENDING]
    if not any(p.approval_id in given for p in pending):  # all answered already: the request is a retry
        return Paused(message, index, None)
    if missing := [p.approval_id for p in pending if p.approval_id not in given]:
        raise ApprovalsMissing(f"Answer every approval this answer waits for; missing: {', '.join(missing)}.")
    decided = {p.approval_id: _decide(p, given[p.approval_id], now) for p in pending}
    calls = {p.call_id: p for p in message.parts if isinstance(p, ToolCallPart)}
    parts: tuple[Part, ...] = tuple(decided.get(p.approval_id, p) if isinstance(p, ApprovalPart) else p
                                    for p in message.parts)
    decisions = tuple(Decision(calls[a.call_id], a) for a in decided.values() if a.call_id in calls)
    return Paused(message, index, Resumption(parts, decisions))


def _decide(approval: ApprovalPart, answer: ApprovalAnswer, now: datetime) -> ApprovalPart:
    if now > approval.expires_at:
        return replace(approval, state=ApprovalState.EXPIRED, reason=answer.reason)
    state = ApprovalState.APPROVED if answer.approved else ApprovalState.DENIED
    return replace(approval, state=state, reason=None if answer.approved else answer.reason)
