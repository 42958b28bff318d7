"""Tool calls that wait for the user's approval: what a paused turn resumes with, and what the model reads
back for a call the user denied, or answered too late. (Which calls wait: `Tool.needs_approval`, and a
turn's own set; the loop pauses before them: agent/loop.py.)"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from parlor.agent.tools import ToolResult
from parlor.messages import ApprovalPart, ApprovalState, Parts, StepStartPart, ToolCallPart


@dataclass(frozen=True, slots=True)
class Decision:
    """A paused call and its approval as answered (APPROVED, DENIED or EXPIRED)."""

    call: ToolCallPart
    approval: ApprovalPart


@dataclass(frozen=True, slots=True)
class Resumption:
    """A paused answer picked up again: its parts so far (their approvals answered) and the calls to settle."""

    parts: Parts
    decisions: tuple[Decision, ...]

    @property
    def steps(self) -> int:
        """The model calls the paused turn made: the step budget goes on from there."""
        return sum(isinstance(p, StepStartPart) for p in self.parts)


def new_approval(call_id: str, expires_at: datetime) -> ApprovalPart:
    return ApprovalPart(f"apr_{uuid.uuid4().hex}", call_id, expires_at)


def refused(approval: ApprovalPart, timeout: float) -> ToolResult:
    """What the model reads for a call that did not run: the user's denial (with their reason), or its expiry."""
    if approval.state is ApprovalState.EXPIRED:
        return ToolResult(False, expired_text(timeout), 0.0)
    reason = f" Their reason: {approval.reason}" if approval.reason else ""
    return ToolResult(False, f"The user denied this tool call, so it did not run.{reason} Do not call it again "
                             "for this request; answer without it, or ask the user what they want instead.", 0.0)


def expired_text(timeout: float) -> str:
    return (f"Approval expired: the user's answer came after the {_span(timeout)} an approval is kept, so the tool "
            "did not run. Ask again if it is still needed.")


def _span(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds:g} seconds"
