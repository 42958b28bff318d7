"""Who a request acts as: a user, their tier and their role."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    name: str
    tier: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
