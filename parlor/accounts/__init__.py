"""Users, their API keys, and the principal a request acts as."""

from parlor.accounts.keys import KeyExpired, KeyInfo, parse_duration
from parlor.accounts.store import AccountStore, NewUser, Principal, TooManyKeys, UserExists

__all__ = ["AccountStore", "KeyExpired", "KeyInfo", "NewUser", "Principal", "TooManyKeys", "UserExists",
           "parse_duration"]
