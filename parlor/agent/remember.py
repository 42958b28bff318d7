"""The `remember` tool: the model saves a short fact about the user, for every later thread.

The fact is saved for the context's principal -- never for a user the model names -- and the user
can list and delete what was saved (GET/DELETE /api/memories)."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from parlor.agent.tools import Tool, ToolContext, ToolError, pydantic_tool
from parlor.memory.facts import MAX_FACT_CHARS, MemoryFull, SavedFact


class Facts(Protocol):
    async def add(self, user_id: str, text: str, thread_id: str | None = None) -> tuple[SavedFact, bool]: ...


class RememberArgs(BaseModel):
    model_config = ConfigDict(extra="ignore")  # a `user_id` the model made up changes nothing
    fact: str = Field(min_length=1, max_length=MAX_FACT_CHARS,
                      description="One short fact about the user, in the third person, e.g. 'Prefers metric units.' "
                                  "or 'Their daughter is called Ada.'")


def remember_tool(facts: Facts, timeout: float) -> Tool:
    async def run(context: ToolContext, args: RememberArgs) -> dict[str, str | bool]:
        try:
            saved, new = await facts.add(context.principal.id, args.fact, context.thread_id)
        except MemoryFull as exc:
            raise ToolError(f"{exc}; tell the user they can delete old ones under Memories") from None
        return {"saved": saved.text, "new": new}

    return pydantic_tool(
        "remember",
        "Save a short, lasting fact about the user (name, preferences, circumstances) so you still know it in "
        "their other conversations. Use it when the user tells you something worth remembering or asks you to "
        "remember it. Not for passing details of this conversation.",
        RememberArgs, run, timeout, title="Memory")
