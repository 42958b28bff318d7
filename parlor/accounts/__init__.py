"""Users, their API keys, and the principal a request acts as."""

from parlor.accounts.keys import KeyExpired, KeyInfo, parse_duration
from parlor.accounts.principal import Principal
from parlor.accounts.store import AccountStore, NewUser, TooManyKeys, UserExists

__all__ = ["AccountStore", "KeyExpired", "KeyInfo", "NewUser", "Principal", "TooManyKeys", "UserExists",
           "parse_duration"]
