"""Which tools a deployment offers: configuration, not code."""

from __future__ import annotations

from dataclasses import replace

import httpx

from parlor.agent.builtin import UserFacts, builtin_tools
from parlor.agent.http_tools import http_tool
from parlor.agent.remember import Facts, remember_tool
from parlor.agent.tools import Tool
from parlor.config import Settings


def configured_tools(settings: Settings, facts: UserFacts, client: httpx.AsyncClient,
                     memories: Facts | None = None, knowledge: Tool | None = None) -> list[Tool]:
    available = builtin_tools(facts, settings.tool_timeout)
    listed = list(settings.tools)  # before the ones this deployment cannot offer are quietly left out
    if knowledge is not None:  # search_knowledge_base: offered when the knowledge base is built
        available[knowledge.name] = knowledge
    elif "search_knowledge_base" in settings.tools:
        settings = settings.model_copy(update={"tools": [n for n in settings.tools if n != "search_knowledge_base"]})
    if memories is not None and settings.memory == "on":
        available["remember"] = remember_tool(memories, settings.tool_timeout)
    else:  # memory off: `remember` is quietly not offered
        settings = settings.model_copy(update={"tools": [n for n in settings.tools if n != "remember"]})
    unknown = [name for name in settings.tools if name not in available]
    if unknown:
        raise ValueError(f"PARLOR_TOOLS: unknown tool(s) {', '.join(unknown)}; built in: {', '.join(available)}")
    if unknown := [name for name in settings.approval_tools if name not in listed]:
        raise ValueError(f"PARLOR_APPROVAL_TOOLS: {', '.join(unknown)} is not one of PARLOR_TOOLS "
                         f"({', '.join(listed) or 'none'}); HTTP and MCP tools say "
                         f"\"needs_approval\" in their own config")
    built_in = [replace(available[name], needs_approval=name in settings.approval_tools) for name in settings.tools]
    return built_in + [http_tool(c, client) for c in settings.http_tools]
