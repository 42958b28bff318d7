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
from parlor.llm.types import ToolHint

UserFacts = Callable[[Principal, dict[str, int]], Awaitable[dict[str, Any]]]  # who, requests left

# When each may be needed (for the bundled local models: see ToolHint). Broad on purpose: a hint only lets
# the model consider the tool; the model decides.
_MATH_WORDS = (r"calcul\w*|comput\w*|multipl\w*|divi[ds]\w*|plus|minus|times|sum|add|subtract\w*|power|squared?|"
               r"cubed?|sqrt|root|percent\w*|average|total|rechne\w*|mal|geteilt|fois|por|entre|más|menos")
CALCULATOR_HINT = ToolHint(rf"\d\s*(?:[-+*/\u00d7\u00f7^%]|\*\*)\s*\(?\d|\d\s*%|(?=.*\d).*\b(?:{_MATH_WORDS})\b",
                           examples=(("What is 48 * 19?", {"expression": "48 * 19"}),
                                     ("How much is 15% of 80?", {"expression": "15 / 100 * 80"})))
# no example call: the 0.5B model copied an example's time zone for another city
TIME_HINT = ToolHint(r"\b(?:time|clock|date|what day|heure|uhr|zeit|hora|fecha|datum|jour)\b")
ACCOUNT_HINT = ToolHint(r"\b(?:account|usage|quota|limits?|tier|requests?|tokens?|budget|my (?:chats|threads|"
                        r"documents|files|uploads)|(?:documents?|files?|uploads?) (?:ready|status)|is my \w+ ready)\b",
                        examples=(("How much of my quota is left?", {}),))


class CalculatorArgs(BaseModel):
    # No example values in descriptions: small models copied them into arguments and answers.
    expression: str = Field(description="The arithmetic to work out, written with numbers and operators.",
                            min_length=1, max_length=500)


async def _calculate(_: ToolContext, args: CalculatorArgs) -> dict[str, str]:
    try:
        return {"expression": args.expression, **format_result(evaluate(args.expression))}
    except CalculatorError as exc:
        raise ToolError(str(exc)) from None


class TimeArgs(BaseModel):
    timezone: str = Field(default="UTC", description="The IANA time zone (Area/City) of the place asked about.",
                          max_length=64)


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
        "The user's own Parlor account: their name, tier, usage today, the requests and tokens they have left, "
        "their chats and documents (and whether those are ready). For questions about their account or usage. "
        "Takes no arguments: it always describes the user you are talking to.",
        NoArgs, run, timeout, title="Your account", hint=ACCOUNT_HINT)


def builtin_tools(facts: UserFacts, timeout: float) -> dict[str, Tool]:
    return {
        "calculator": pydantic_tool(
            "calculator", "Exact arithmetic (+ - * / // % **, parentheses, any size of integer, fractions). "
            "Use it for every calculation instead of working it out yourself.", CalculatorArgs, _calculate,
            timeout, title="Calculator", hint=CALCULATOR_HINT),
        "current_time": pydantic_tool(
            "current_time", "The date and time now in a time zone: for what time or day it is now somewhere.",
            TimeArgs, _current_time, timeout, title="Current time", hint=TIME_HINT),
        "get_user_data": get_user_data_tool(facts, timeout),
    }
