"""The `remember` tool: the model saves a short fact about the user, for every later thread.

The fact is saved for the context's principal -- never for a user the model names -- and the user
can list and delete what was saved (GET/DELETE /api/memories)."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from parlor.agent.tools import CLIENT_KEY, Tool, ToolContext, ToolError, pydantic_tool
from parlor.llm.types import ToolHint
from parlor.memory.facts import MAX_FACT_CHARS, MemoryFull, SavedFact


class Facts(Protocol):
    async def add(self, user_id: str, text: str, thread_id: str | None = None) -> tuple[SavedFact, bool]: ...


# When the user may be telling something worth keeping (for the bundled local models: see ToolHint)
REMEMBER_HINT = ToolHint(
    r"^(?!.*\b(?:do|did|what|can|could) you (?:still )?(?:remember|know)\b)"  # a question about memory reads it
    r".*\b(?:remember|memori[sz]e|forget|keep in mind|note that|my name|call me|i am|i'm|i prefer|i like|i love|"
    r"i hate|i live|i work|my \w+(?: \w+)? (?:is|are)|souviens|retiens|rappelle|je m'appelle|merk|erinner|"
    r"ich heiße|recuerda|me llamo)\b")  # no example call: the 0.5B model saved an example's fact as the user's


class RememberArgs(BaseModel):
    model_config = ConfigDict(extra="ignore")  # a `user_id` the model made up changes nothing
    # No example fact: small models saved the example instead of what the user said.
    fact: str = Field(min_length=1, max_length=MAX_FACT_CHARS,
                      description="The fact as the user stated it, about them in the third person, one sentence.")


def remember_tool(facts: Facts, timeout: float) -> Tool:
    async def run(context: ToolContext, args: RememberArgs) -> dict[str, object]:
        try:
            saved, new = await facts.add(context.principal.id, args.fact, context.thread_id)
        except MemoryFull as exc:
            raise ToolError(f"{exc}; tell the user they can delete old ones under Memories") from None
        # The id lets the chat offer "Undo" (DELETE /api/memories/{id}); the model never reads it (CLIENT_KEY).
        return {"saved": saved.text, "new": new, CLIENT_KEY: {"memory_id": saved.id}}

    return pydantic_tool(
        "remember",
        "Save a lasting fact about the user (their name, a preference, their family, work or home) so you still "
        "know it in their other conversations. Use it when the user asks you to remember something or tells you "
        "about themselves. Not for passing details of this conversation.",
        RememberArgs, run, timeout, title="Memory", hint=REMEMBER_HINT)
