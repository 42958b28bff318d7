"""Budgets: request limits, token budgets, tiers, and the usage and cost ledger."""

from parlor.limits.budget import BudgetExhausted, Reservation, TokenBudget, estimate_tokens
from parlor.limits.guard import Limits, RequestGuard
from parlor.limits.ledger import UsageLedger, UsageRecord
from parlor.limits.limiter import Decision, LimitsUnavailable, Window, WindowState
from parlor.limits.pricing import PriceTable, priced_parts
from parlor.limits.report import UsageReport
from parlor.limits.tiers import ModelNotAllowed, Tiers

__all__ = [
    "BudgetExhausted", "Decision", "Limits", "LimitsUnavailable", "ModelNotAllowed", "PriceTable",
    "RequestGuard", "Reservation", "Tiers", "TokenBudget", "UsageLedger", "UsageRecord", "UsageReport",
    "Window", "WindowState", "estimate_tokens", "priced_parts",
]
