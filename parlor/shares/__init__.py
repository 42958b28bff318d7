"""Read-only links to one chat as it was when shared (a snapshot), revocable by their owner."""

from parlor.shares.store import SharedChat, ShareInfo, ShareStore

__all__ = ["ShareInfo", "ShareStore", "SharedChat"]
