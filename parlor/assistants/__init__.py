"""Assistants (a user's configured chats, shared or not) and the groups they are shared with."""
