"""Tools from Model Context Protocol servers (stdio or streamable HTTP), listed at start-up.

A server that cannot be reached is logged and skipped: its tools are simply not offered."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from parlor.agent.schema import schema_validator
from parlor.agent.tools import Tool, ToolContext, ToolError
from parlor.config import McpServerConfig

if TYPE_CHECKING:  # the MCP SDK costs a second of start-up: imported only when a server is configured
    from mcp import ClientSession

log = logging.getLogger(__name__)


class McpTools:
    """Keeps one session per server open for the life of the app."""

    def __init__(self) -> None:
        self._stack = AsyncExitStack()

    async def start(self, servers: list[McpServerConfig]) -> list[Tool]:
        tools: list[Tool] = []
        for server in servers:
            try:  # asyncio.timeout, not wait_for: the session's contexts must stay in this task
                async with asyncio.timeout(server.timeout):
                    tools += await self._connect(server)
            except Exception as exc:
                log.warning("MCP server %s is unavailable, its tools are not offered: %s", server.name, exc)
        return tools

    async def _connect(self, server: McpServerConfig) -> list[Tool]:
        from mcp import ClientSession, StdioServerParameters, stdio_client
        from mcp.client.streamable_http import streamable_http_client

        stack = AsyncExitStack()
        try:
            if server.transport == "stdio":
                assert server.command is not None  # checked by McpServerConfig
                params = StdioServerParameters(command=server.command, args=server.args, env=server.env or None)
                read, write = await stack.enter_async_context(stdio_client(params))
            else:
                assert server.url is not None
                read, write = await stack.enter_async_context(streamable_http_client(server.url))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            listed = await session.list_tools()
        except BaseException:
            await stack.aclose()
            raise
        await self._stack.enter_async_context(stack)
        log.info("MCP server %s offers %d tools", server.name, len(listed.tools))
        if isinstance(server.needs_approval, list) and (missing := set(server.needs_approval) - {
                t.name for t in listed.tools}):
            log.warning("MCP server %s: needs_approval names tools it does not offer: %s", server.name,
                        ", ".join(sorted(missing)))
        return [_tool(server, session, t.name, t.description or "", t.input_schema) for t in listed.tools]

    async def aclose(self) -> None:
        await self._stack.aclose()


def _tool(server: McpServerConfig, session: ClientSession, name: str, description: str,
          schema: dict[str, Any]) -> Tool:
    from mcp.types import CallToolResult, TextContent

    async def run(_: ToolContext, args: dict[str, Any]) -> Any:
        result = await session.call_tool(name, args, read_timeout_seconds=server.timeout)
        if not isinstance(result, CallToolResult):
            raise ToolError("the tool server asked for input this chat cannot give")
        text = "\n".join(c.text for c in result.content if isinstance(c, TextContent))
        if result.is_error:
            raise ToolError(text or "the tool server reported an error")
        return result.structured_content if result.structured_content is not None else text

    return Tool(f"{server.name}__{name}"[:64], description, schema, schema_validator(schema), run,
                timeout=server.timeout, title=name, needs_approval=server.approves(name))
