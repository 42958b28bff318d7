"""The agent: the tool-calling loop, the tool registry, and the built-in and declared tools."""

from parlor.agent.builtin import UserFacts, builtin_tools
from parlor.agent.generation import Generation
from parlor.agent.loop import AgentLoop
from parlor.agent.tools import Tool, ToolContext, ToolError, ToolRegistry, ToolResult, pydantic_tool
from parlor.agent.transcript import Transcript, parts_to_messages

__all__ = [
    "AgentLoop", "Generation", "Tool", "ToolContext", "ToolError", "ToolRegistry", "ToolResult", "Transcript",
    "UserFacts", "builtin_tools", "parts_to_messages", "pydantic_tool",
]
