"""Conversation memory: threads and messages, and the history a turn sends to the model."""

from parlor.memory.store import MessageStore, StoredMessage, ThreadNotFound, ThreadPage, ThreadState

__all__ = ["MessageStore", "StoredMessage", "ThreadNotFound", "ThreadPage", "ThreadState"]
