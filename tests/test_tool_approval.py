"""Tools that wait for the user's approval, through a real server and the AI SDK's own chat: the turn pauses
before the tool and is stored so; the user's answer (useChat's approval API, unchanged) resumes it in the same
message, after a restart too; a denial's reason reaches the model; a late answer expires; nothing runs twice."""

from __future__ import annotations

import copy
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import sdk
from tests.client import ChatResult, auth, chat, post_chat
from tests.conftest import RunningServer, upstream_provider
from tests.helpers.wait import wait_for_sync
from tests.server import ParlorServer
from tests.tool_backend import ToolBackend
from tests.upstream import Script, ScriptedToolCall, Upstream

SCRIPT = Path(__file__).with_name("sdk_approval.mjs")
SHORT_TIMEOUT = 1.0  # seconds an approval is kept, once the server restarts with it


def tool(name: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": f"{name} over HTTP", "url": url, **extra,
            "parameters": {"type": "object", "properties": {"who": {"type": "string"}}, "required": ["who"]}}


@pytest.fixture(scope="module")
def backend() -> Iterator[ToolBackend]:
    with ToolBackend() as service:
        yield service


@pytest.fixture(scope="module")
def approval_server(upstream: Upstream, backend: ToolBackend,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tools = [tool("send_note", f"{backend.url}/slow", needs_approval=True), tool("lookup", f"{backend.url}/slow")]
    process = ParlorServer(tmp_path_factory.mktemp("approval"), [upstream_provider(upstream)],
                           PARLOR_HTTP_TOOLS=json.dumps(tools), PARLOR_APPROVAL_TOOLS='["current_time"]').start()
    try:
        yield RunningServer(process, process.create_user("approver"))
    finally:
        process.stop()


@pytest.fixture(scope="module")
def script() -> Path:
    return sdk.install(SCRIPT)


def ask(upstream: Upstream, marker: str, *calls: tuple[str, dict[str, Any]], then: str = "Done.") -> None:
    upstream.push(Script(tool_calls=[ScriptedToolCall(n, json.dumps(a)) for n, a in calls]), match=marker)
    upstream.push(Script(text=then), match=marker)


def ran(backend: ToolBackend, who: str) -> int:
    return sum(1 for c in backend.calls if c["query"].get("who") == who)  # type: ignore[union-attr]


def sent(upstream: Upstream, marker: str) -> list[dict[str, Any]]:
    return [r for r in upstream.requests if any(marker in str(m.get("content")) for m in r["messages"])]


def through_sdk(script: Path, server: RunningServer, text: str, decision: str,
                reason: str | None = None) -> dict[str, list[dict[str, Any]]]:
    args = ["node", str(script), f"{server.url}/api/chat", server.api_key, uuid.uuid4().hex, text, decision,
            *([reason] if reason else [])]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in done.stdout.splitlines() if ": " in line}
    assert done.stdout.splitlines()[-1] == "VALID"
    return {"asked": json.loads(lines["ASKED"]), "done": json.loads(lines["DONE"])}


def stored(server: RunningServer, thread_id: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.url}/api/threads/{thread_id}", headers=auth(server.api_key))
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


def tool_part(message: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in message["parts"] if p["type"] == f"tool-{name}")


def answered(messages: list[dict[str, Any]], approved: bool, reason: str | None = None) -> dict[str, Any]:
    """The body useChat posts after addToolApprovalResponse: the messages, the approvals answered."""
    messages = copy.deepcopy(messages)
    for part in messages[-1]["parts"]:
        if part.get("state") == "approval-requested":
            part["state"] = "approval-responded"
            part["approval"] = {**part["approval"], "approved": approved, **({"reason": reason} if reason else {})}
    return {"messages": messages, "trigger": "submit-message", "messageId": messages[-1]["id"]}


def answer(server: RunningServer, thread_id: str, approved: bool, reason: str | None = None) -> ChatResult:
    body = answered(stored(server, thread_id), approved, reason)
    return post_chat(server.url, server.api_key, {**body, "id": thread_id})


def test_an_approved_tool_runs_once_and_the_answer_goes_on_in_the_same_message(
        approval_server: RunningServer, upstream: Upstream, backend: ToolBackend, script: Path, marker: str) -> None:
    ask(upstream, marker, ("send_note", {"who": f"n-{marker}"}), ("lookup", {"who": f"l-{marker}"}), then="Sent it.")
    result = through_sdk(script, approval_server, f"note {marker}", "approve")

    asked = result["asked"][-1]
    note, lookup = tool_part(asked, "send_note"), tool_part(asked, "lookup")
    assert note["state"] == "approval-requested" and note["approval"]["id"].startswith("apr_")
    assert lookup["state"] == "output-available"  # the step's other tool ran at once: the SDK waits for it
    done = result["done"]
    assert [m["role"] for m in done] == ["user", "assistant"] and done[-1]["id"] == asked["id"]
    note = tool_part(done[-1], "send_note")
    assert note["state"] == "output-available" and note["approval"]["approved"] is True
    assert done[-1]["parts"][-1]["text"] == "Sent it."
    assert ran(backend, f"n-{marker}") == 1 and ran(backend, f"l-{marker}") == 1

    second = sent(upstream, marker)[-1]["messages"]  # the model's call after the answer: both results
    results = {m["tool_call_id"]: m["content"] for m in second if m["role"] == "tool"}
    assert len(results) == 2 and any(f"n-{marker}" in c for c in results.values())


def test_a_denial_with_its_reason_reaches_the_model_and_the_tool_never_runs(
        approval_server: RunningServer, upstream: Upstream, backend: ToolBackend, script: Path, marker: str) -> None:
    ask(upstream, marker, ("send_note", {"who": f"d-{marker}"}), then="Understood, not sent.")
    result = through_sdk(script, approval_server, f"note {marker}", "deny", "not to my boss")
    message = result["done"][-1]
    note = tool_part(message, "send_note")
    assert note["state"] == "output-denied"
    assert message["parts"][-1]["text"] == "Understood, not sent."
    assert ran(backend, f"d-{marker}") == 0
    tool_message = next(m for m in sent(upstream, marker)[-1]["messages"] if m["role"] == "tool")
    assert "denied" in tool_message["content"] and "not to my boss" in tool_message["content"]

    thread = stored(approval_server, message["metadata"]["threadId"])
    assert tool_part(thread[-1], "send_note")["approval"] == {"id": note["approval"]["id"], "approved": False,
                                                              "reason": "not to my boss"}
    assert thread[-1]["metadata"]["status"] == "complete"
    check = sdk.validate(thread)
    assert check.returncode == 0, check.stderr


def test_a_built_in_tool_can_need_approval_by_setting(approval_server: RunningServer, upstream: Upstream,
                                                      marker: str) -> None:
    ask(upstream, marker, ("current_time", {"timezone": "UTC"}))
    thread_id = uuid.uuid4().hex
    result = chat(approval_server.url, approval_server.api_key, thread_id, f"time {marker}")
    kinds = [t for t in result.types if t.startswith("tool-")]
    assert kinds[-2:] == ["tool-input-available", "tool-approval-request"] and result.types[-1] == "finish"
    message = stored(approval_server, thread_id)[-1]
    assert message["metadata"]["status"] == "awaiting"
    assert tool_part(message, "current_time")["state"] == "approval-requested"
    check = sdk.validate(stored(approval_server, thread_id))
    assert check.returncode == 0, check.stderr


def test_answers_that_do_not_fit_are_refused_and_a_retried_answer_runs_nothing_twice(
        approval_server: RunningServer, upstream: Upstream, backend: ToolBackend, marker: str) -> None:
    ask(upstream, marker, ("send_note", {"who": f"r-{marker}"}), then="Sent once.")
    thread_id = uuid.uuid4().hex
    chat(approval_server.url, approval_server.api_key, thread_id, f"note {marker}")
    body = {**answered(stored(approval_server, thread_id), True), "id": thread_id}

    unknown = copy.deepcopy(body)
    tool_part(unknown["messages"][-1], "send_note")["approval"]["id"] = "apr_nope"
    refused = post_chat(approval_server.url, approval_server.api_key, unknown)
    assert refused.status == 409 and refused.body["error"]["code"] == "approval_not_found"
    mismatched = copy.deepcopy(body)
    tool_part(mismatched["messages"][-1], "send_note")["toolCallId"] = "call_other"
    refused = post_chat(approval_server.url, approval_server.api_key, mismatched)
    assert refused.status == 422 and refused.body["error"]["code"] == "approval_mismatch"
    assert ran(backend, f"r-{marker}") == 0

    first = post_chat(approval_server.url, approval_server.api_key, body)
    calls = len(sent(upstream, marker))
    again = post_chat(approval_server.url, approval_server.api_key, body)  # the same answer, retried
    assert first.text == again.text == "Sent once."
    assert [t for t in again.types if t.startswith("tool-")] == ["tool-output-available"]
    assert again.message_id == first.message_id
    assert ran(backend, f"r-{marker}") == 1 and len(sent(upstream, marker)) == calls


def test_a_paused_answer_survives_a_restart_and_a_late_answer_expires(
        approval_server: RunningServer, upstream: Upstream, backend: ToolBackend, marker: str) -> None:
    ask(upstream, f"before {marker}", ("send_note", {"who": f"b-{marker}"}), then="Sent after the restart.")
    kept = uuid.uuid4().hex
    chat(approval_server.url, approval_server.api_key, kept, f"before {marker}")
    process = approval_server.process  # no memory survives: the approval is read back from the database
    process.env["PARLOR_APPROVAL_TIMEOUT_SECONDS"] = str(SHORT_TIMEOUT)
    process.restart()

    resumed = answer(approval_server, kept, True)
    assert resumed.text == "Sent after the restart." and ran(backend, f"b-{marker}") == 1
    assert stored(approval_server, kept)[-1]["metadata"]["status"] == "complete"

    ask(upstream, f"late {marker}", ("send_note", {"who": f"x-{marker}"}), then="It expired, sorry.")
    late = uuid.uuid4().hex
    chat(approval_server.url, approval_server.api_key, late, f"late {marker}")
    asked_at = time.monotonic()
    wait_for_sync(lambda: time.monotonic() - asked_at > SHORT_TIMEOUT, seconds=5)  # its expiry is wall-clock time
    expired = answer(approval_server, late, True)
    error = next(c for c in expired.chunks if c["type"] == "tool-output-error")
    assert error["errorText"].startswith("Approval expired") and expired.text == "It expired, sorry."
    assert ran(backend, f"x-{marker}") == 0
    tool_message = next(m for m in sent(upstream, f"late {marker}")[-1]["messages"] if m["role"] == "tool")
    assert "Approval expired" in tool_message["content"]
    part = tool_part(stored(approval_server, late)[-1], "send_note")
    assert part["state"] == "output-error" and part["errorText"].startswith("Approval expired")
