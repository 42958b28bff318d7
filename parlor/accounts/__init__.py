"""Users, their API keys, and the principal a request acts as."""

from parlor.accounts.store import AccountStore, NewUser, Principal, UserExists

__all__ = ["AccountStore", "NewUser", "Principal", "UserExists"]
