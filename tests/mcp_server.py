"""A tiny MCP server (stdio) for the tests: Parlor lists its tools at start-up and calls them."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

server = MCPServer("parlor-test")


@server.tool()
def reverse(text: str) -> str:
    """Reverse a text."""
    return text[::-1]


if __name__ == "__main__":
    server.run()
