"""The built-in tools: calculator, current_time, get_user_data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field

from parlor.accounts import Principal
from parlor.agent.calculator import CalculatorError, evaluate, format_result
from parlor.agent.tools import Tool, ToolContext, ToolError, pydantic_tool

UserFacts = Callable[[Principal, dict[str, int]], Awaitable[dict[str, Any]]]  # who, requests left


class CalculatorArgs(BaseModel):
    expression: str = Field(description="An arithmetic expression, e.g. '1234567 * 7654321' or '(2/3 + 1) ** 2'.",
                            min_length=1, max_length=500)


async def _calculate(_: ToolContext, args: CalculatorArgs) -> dict[str, str]:
    try:
        return {"expression": args.expression, **format_result(evaluate(args.expression))}
    except CalculatorError as exc:
        raise ToolError(str(exc)) from None


class TimeArgs(BaseModel):
    timezone: str = Field(default="UTC", description="An IANA time zone, e.g. 'Europe/Paris'.", max_length=64)


async def _current_time(_: ToolContext, args: TimeArgs) -> dict[str, str]:
    try:
        zone = ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolError(f"unknown time zone {args.timezone!r}; use an IANA name like 'America/New_York'") from None
    now = datetime.now(zone)
    return {"timezone": args.timezone, "iso": now.isoformat(timespec="seconds"),
            "weekday": now.strftime("%A"), "utc_offset": now.strftime("%z")}


class NoArgs(BaseModel):
    # Extra keys (a `user_id` the model made up, say) are ignored: the caller is always the context's user.
    model_config = ConfigDict(extra="ignore")


def get_user_data_tool(facts: UserFacts, timeout: float) -> Tool:
    async def run(context: ToolContext, _: NoArgs) -> dict[str, Any]:
        return await facts(context.principal, context.requests_left)

    return pydantic_tool(
        "get_user_data",
        "The current user's own account: name, tier, today's usage, what is left of their limits, their "
        "threads and documents. Takes no arguments: it always describes the user you are talking to.",
        NoArgs, run, timeout, title="Your account")


def builtin_tools(facts: UserFacts, timeout: float) -> dict[str, Tool]:
    return {
        "calculator": pydantic_tool(
            "calculator", "Exact arithmetic (+ - * / // % **, parentheses, any size of integer, fractions). "
            "Use it for any calculation instead of doing it yourself.", CalculatorArgs, _calculate,
            timeout, title="Calculator"),
        "current_time": pydantic_tool(
            "current_time", "The current date and time in a time zone.", TimeArgs, _current_time,
            timeout, title="Current time"),
        "get_user_data": get_user_data_tool(facts, timeout),
    }
