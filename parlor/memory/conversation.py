"""Conversation memory as the turn pipeline sees it: read a thread's window, build the prompt within
the token budget, count what gets stored, and refresh the summary after the turn when it is due."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from parlor.db import utcnow
from parlor.llm.types import LLMMessage
from parlor.memory.context import Budget, Context, ContextReader, Render, ThreadWindow, build_context
from parlor.memory.facts import FactStore
from parlor.memory.instructions import InstructionStore
from parlor.memory.summaries import Summariser
from parlor.memory.tokens import TokenCounter, count_messages, truncate_to
from parlor.messages import FilePart, MessageStatus, StoredMessage, TextPart
from parlor.tasks import TaskTracker

INSTRUCTIONS_HEADER = "Instructions for this conversation (from the assistant the user is chatting with):"
MAX_INSTRUCTION_TOKENS = 4000  # an assistant's instructions: at most this much of the prompt


class ConversationMemory:
    def __init__(self, reader: ContextReader, counter: TokenCounter, render: Render, system_prompt: str,
                 budget: Budget, tasks: TaskTracker, summariser: Summariser | None = None,
                 facts: FactStore | None = None, facts_read: int = 0, instructions: InstructionStore | None = None):
        """`facts_read`: how many of the user's newest saved facts to read for the prompt (0: memory off);
        `instructions`: the users' custom instructions (read with the window; saved from the account page)."""
        self.counter = counter
        self.summariser = summariser
        self.facts = facts
        self.instructions = instructions
        self.budget = budget
        self._reader = reader
        self._render = render
        self._system_prompt = system_prompt
        self._prompt_tokens = counter.count_tokens(system_prompt)
        self._prompt_counts: dict[str, int] = {}  # experiments' system prompts -> their token counts
        self._tasks = tasks
        self._facts_read = facts_read

    async def read(self, user_id: str, thread_id: str) -> ThreadWindow:
        """The one query before the model call (raises ThreadNotFound for another user's thread)."""
        return await self._reader.read(user_id, thread_id, self.budget.window_messages + 2, self._facts_read)

    def context(self, window: ThreadWindow, history: Sequence[StoredMessage], system_prompt: str | None = None,
                context_tokens: int | None = None, instructions: str = "") -> Context:
        """`system_prompt`, `context_tokens`: an experiment's overrides of the configured ones;
        `instructions`: an assistant's, after the system prompt (cut to a quarter of the window at most)."""
        budget = self.budget if context_tokens is None else replace(self.budget, context_tokens=context_tokens)
        if instructions.strip():
            room = min(MAX_INSTRUCTION_TOKENS, budget.context_tokens // 4)
            prompt = system_prompt if system_prompt is not None else self._system_prompt
            instructions = truncate_to(self.counter, instructions.strip(), room, "…")
            system_prompt = f"{prompt}\n\n{INSTRUCTIONS_HEADER}\n{instructions}" if prompt else instructions
        if system_prompt is None:
            return build_context(self._system_prompt, self._prompt_tokens, window, history, self._render,
                                 self.counter, budget)
        tokens = self._prompt_counts.get(system_prompt)
        if tokens is None:  # counted once per prompt (a few variants' prompts at most)
            if len(self._prompt_counts) > 64:
                self._prompt_counts.clear()
            tokens = self._prompt_counts[system_prompt] = self.counter.count_tokens(system_prompt)
        return build_context(system_prompt, tokens, window, history, self._render, self.counter, budget)

    def user_message(self, client_id: str, text: str, files: Sequence[FilePart] = ()) -> StoredMessage:
        """The message being sent, not stored yet, counted (its count is stored with it): its text, then the
        images and PDFs it carries."""
        parts = ((TextPart(text),) if text else ()) + tuple(files)
        message = StoredMessage("", client_id, "user", text, parts, MessageStatus.COMPLETE, utcnow())
        return replace(message, tokens=self.count_stored(message))

    def count(self, messages: Sequence[LLMMessage]) -> int:
        return count_messages(self.counter, messages)

    def count_stored(self, message: StoredMessage) -> int:
        return count_messages(self.counter, self._render(message))

    def after_turn(self, thread_id: str, request_id: str, context: Context | None, added_tokens: int) -> None:
        """Called once the turn has finished streaming: starts the summary job if it is due."""
        if self.summariser is None or context is None:
            return
        if self.summariser.due(context.unsummarised_tokens + added_tokens, context.unsummarised_messages + 2):
            self._tasks.spawn(self.summariser.refresh(thread_id, request_id), name=f"summary:{request_id}")

