"""Assistants as the routes and the turn pipeline use them: who may see, chat with and change one, the
server's rules for what it names (models the owner may use, tools the server offers, the owner's groups),
and its end (its documents deleted with it)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.accounts import Principal
from parlor.agent.tools import ToolContext, ToolError, ToolRegistry
from parlor.assistants.store import AssistantStore, document_ids
from parlor.assistants.types import (
    AssistantFields,
    AssistantNotFound,
    AssistantUnavailable,
    AssistantView,
    Badge,
    InvalidAssistant,
    NotAssistantOwner,
    TurnAssistant,
    Visibility,
)
from parlor.chat.catalog import ModelCatalog
from parlor.config import Settings
from parlor.llm.types import LLMMessage, ToolCall

SEARCH = "search_knowledge_base"

ForgetDocument = Callable[[str, str], Awaitable[bool]]  # (owner id, document id): its file, chunks and row


@dataclass(frozen=True, slots=True)
class ToolInfo:
    name: str
    description: str
    kind: str  # builtin | http | mcp


class ToolKinds:
    """Which tools the server offers, and where each comes from (read at call time: MCP servers' tools
    join the registry once they are reached)."""

    def __init__(self, registry: ToolRegistry, settings: Settings):
        self.registry = registry
        self._http = {c.name for c in settings.http_tools}
        self._mcp = tuple(f"{s.name}__" for s in settings.mcp_servers)

    def offered(self) -> list[ToolInfo]:
        return [ToolInfo(t.name, t.description, self._kind(t.name)) for t in self.registry.tools.values()]

    def names(self) -> set[str]:
        return set(self.registry.tools)

    def _kind(self, name: str) -> str:
        if name in self._http:
            return "http"
        return "mcp" if name.startswith(self._mcp) else "builtin"


class Assistants:
    def __init__(self, store: AssistantStore, sessions: async_sessionmaker[AsyncSession], models: ModelCatalog,
                 tools: ToolKinds, forget: ForgetDocument):
        self._store = store
        self._sessions = sessions
        self._models = models
        self.tools = tools
        self._forget = forget

    async def visible(self, who: Principal) -> list[AssistantView]:
        return await self._store.visible(who.id)

    async def get(self, who: Principal, assistant_id: str) -> AssistantView:
        found = await self._store.get(who.id, assistant_id)
        if found is None:
            raise AssistantNotFound(assistant_id)
        return found

    async def create(self, who: Principal, fields: AssistantFields) -> AssistantView:
        await self._check(who, fields)
        return await self.get(who, await self._store.create(who.id, fields))

    async def update(self, who: Principal, assistant_id: str, fields: AssistantFields) -> AssistantView:
        await self.owned(who, assistant_id)
        await self._check(who, fields)
        await self._store.update(assistant_id, fields)
        return await self.get(who, assistant_id)

    async def delete(self, who: Principal, assistant_id: str) -> None:
        """The assistant and its documents (their files, chunks and vectors first)."""
        await self.owned(who, assistant_id)
        for document_id in await document_ids(self._sessions, assistant_id):
            await self._forget(who.id, document_id)
        await self._store.delete(assistant_id)

    async def owned(self, who: Principal, assistant_id: str) -> AssistantView:
        """The caller's own assistant; NotAssistantOwner when they only see it, AssistantNotFound otherwise."""
        found = await self.get(who, assistant_id)
        if found.owner.id != who.id:
            raise NotAssistantOwner(assistant_id)
        return found

    async def for_turn(self, who: Principal, assistant_id: str) -> TurnAssistant:
        """What a chat with the assistant uses; AssistantUnavailable once the user may not see it."""
        found = await self._store.get(who.id, assistant_id)
        if found is None:
            raise AssistantUnavailable(assistant_id)
        fields = found.fields
        return TurnAssistant(found.id, found.owner.id, fields.instructions, fields.model,
                             frozenset(fields.tools) if fields.tools is not None else None,
                             frozenset(fields.approval_tools))

    def model_for(self, who: Principal, assistant: TurnAssistant) -> str | None:
        """The model a stateless call to the assistant uses: its own while the caller's tier allows it, else
        the tier's default (None: the tier may use no model)."""
        chosen = self._models.usable(who.tier, assistant.model) or self._models.default(who.tier)
        return chosen.id if chosen is not None else None

    async def briefing(self, who: Principal, assistant: TurnAssistant, question: str,
                       request_id: str) -> list[LLMMessage]:
        """For a stateless call (`/v1`), which runs no tools: what the assistant's knowledge search finds for
        the question, as a search call and its result (a tool result like any other: fenced as data for
        the model). Empty when the assistant offers no search, or it finds nothing."""
        offered = assistant.tools is None or SEARCH in assistant.tools
        if not offered or SEARCH not in self.tools.names() or not question.strip():
            return []
        registry = self.tools.registry
        try:
            raw, arguments = registry.parse(SEARCH, orjson.dumps({"query": question[:1000]}).decode())
        except ToolError:
            return []
        context = ToolContext(who, None, request_id, assistant_id=assistant.id)
        result = await registry.call(SEARCH, arguments, context)
        if not result.ok or not result.sources:
            return []
        call = ToolCall(f"call_{uuid.uuid4().hex[:24]}", SEARCH, orjson.dumps(raw).decode())
        return [LLMMessage("assistant", "", (call,)), result.for_model(call.id, SEARCH)]

    async def badges(self, ids: Sequence[str]) -> dict[str, Badge]:
        return await self._store.badges(ids)

    async def _check(self, who: Principal, fields: AssistantFields) -> None:
        """The server's rules: a model the owner may use, tools the server offers, groups the owner is in."""
        if fields.model is not None and fields.model not in {m.id for m in self._models.for_tier(who.tier)}:
            raise InvalidAssistant("unknown_model", f"There is no model {fields.model!r} for you here "
                                   "(see GET /api/models).")
        offered = self.tools.names()
        named = [*(fields.tools or ()), *fields.approval_tools]
        if unknown := sorted({t for t in named if t not in offered}):
            raise InvalidAssistant("unknown_tool", f"This server offers no tool named {', '.join(unknown)} "
                                   "(see GET /api/tools).")
        if fields.visibility is Visibility.GROUPS:
            if not fields.groups:
                raise InvalidAssistant("no_groups", "Visibility `groups` needs at least one group.")
            mine = await self._store.groups_of(who.id)
            if outside := sorted(set(fields.groups) - mine):
                raise InvalidAssistant("unknown_group", f"You are in no group {', '.join(outside)} "
                                       "(GET /api/me lists yours).")
