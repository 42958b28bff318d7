"""Conversation memory: threads and messages, the token-budgeted context window, rolling summaries,
token counting, and the facts the bot remembers about a user."""

from parlor.memory.context import Budget, Context, ContextReader, ThreadWindow, build_context
from parlor.memory.conversation import ConversationMemory
from parlor.memory.facts import FactStore, MemoryFull, SavedFact
from parlor.memory.store import MessageNotFound, MessageStore, ThreadNotFound, ThreadPage, ThreadState
from parlor.memory.summaries import Summariser, SummaryPolicy, SummaryStore
from parlor.memory.tokens import EstimateCounter, TokenCounter, build_counter
from parlor.messages import StoredMessage

__all__ = [
    "Budget", "Context", "ContextReader", "ConversationMemory", "EstimateCounter", "FactStore", "MemoryFull",
    "MessageNotFound", "MessageStore", "SavedFact", "StoredMessage", "Summariser", "SummaryPolicy", "SummaryStore",
    "ThreadNotFound",
    "ThreadPage", "ThreadState", "ThreadWindow", "TokenCounter", "build_context", "build_counter",
]
