"""Parlor: a self-hostable AI chat server."""

__version__ = "0.1.0"
