"""Budgets: usage and cost ledger (request limits and token budgets grow here)."""

from parlor.limits.ledger import UsageLedger, UsageRecord

__all__ = ["UsageLedger", "UsageRecord"]
