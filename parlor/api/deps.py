"""What routes may use: the services built by the composition root, and who is calling."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from parlor.accounts import AccountStore, KeyExpired, Principal
from parlor.accounts.data import AccountData
from parlor.api.errors import ApiError
from parlor.api.ratelimit import add_headers, headers_for, rate_limited
from parlor.chat import ChatService, Gateway, RunRegistry
from parlor.config import Settings
from parlor.experiments import Experiments
from parlor.limits import Limits, UsageReport
from parlor.memory import FactStore, MessageStore

Check = Callable[[], Awaitable[None]]


@dataclass
class Services:
    settings: Settings
    accounts: AccountStore
    store: MessageStore
    chat: ChatService
    runs: RunRegistry
    gateway: Gateway
    limits: Limits
    usage: UsageReport
    checks: dict[str, Check] = field(default_factory=dict)
    local_user: Principal | None = None  # set when auth is off
    memories: FactStore | None = None  # what the bot remembers about users (GET/DELETE /api/memories)
    experiments: Experiments | None = None  # A/B tests and feedback on answers
    data: AccountData | None = None  # a user's data rights: export, delete (GET/DELETE /api/account)


async def services(request: Request) -> Services:  # async: FastAPI runs sync dependencies in threads
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]

UNAUTHORIZED = ApiError(401, "unauthorized", "A valid API key is required (Authorization: Bearer <key>).",
                        {"WWW-Authenticate": "Bearer"})


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def principal(request: Request, svc: ServicesDep) -> Principal:
    if svc.local_user is not None:
        return svc.local_user
    key = bearer(request)
    found = await _authenticate(svc, key) if key else None
    if found is None:
        if key:
            await _count_invalid_key(request, svc)
        raise UNAUTHORIZED
    request.state.principal = found
    return found


async def _authenticate(svc: Services, key: str) -> Principal | None:
    try:
        return await svc.accounts.authenticate(key)
    except KeyExpired as exc:
        raise ApiError(401, "key_expired", f"This API key expired at {exc.expired_at.isoformat(timespec='seconds')}; "
                       "sign in again or create a new key.",
                       {"WWW-Authenticate": 'Bearer error="invalid_token", error_description="key expired"'}) from None


async def _count_invalid_key(request: Request, svc: Services) -> None:
    """Repeated invalid keys from one address get 429 instead of 401 (after the cheap rejection)."""
    decision = await svc.limits.guard.auth_failed(request.client.host if request.client else "-")
    if not decision.allowed:
        raise rate_limited(decision, "invalid API keys")


async def limited(request: Request, svc: ServicesDep, who: Annotated[Principal, Depends(principal)]) -> Principal:
    """The caller, admitted by their tier's request limits (429 `rate_limited` otherwise): one
    round trip to the limit store, before any other work. Allowed responses carry what is left."""
    decision = await svc.limits.guard.admit(who)
    if not decision.allowed:
        raise rate_limited(decision)
    add_headers(headers_for(decision))
    request.state.requests_left = {s.window.name: s.remaining for s in decision.states}
    return who


def requests_left(request: Request) -> dict[str, int]:
    """What the caller has left in each request window, as admitted by `limited`."""
    left: dict[str, int] = getattr(request.state, "requests_left", {})
    return left


def is_admin_token(svc: Services, token: str | None) -> bool:
    admin = svc.settings.admin_token
    return bool(admin and token and hmac.compare_digest(token.encode(), admin.get_secret_value().encode()))


async def admin(request: Request, svc: ServicesDep) -> None:
    """The ADMIN_TOKEN bearer, or an admin user's key."""
    token = bearer(request)
    if is_admin_token(svc, token):
        return
    caller = svc.local_user or (await _authenticate(svc, token) if token else None)
    if caller is None:
        raise UNAUTHORIZED
    if not caller.is_admin:
        raise ApiError(403, "forbidden", "This needs an admin.")


PrincipalDep = Annotated[Principal, Depends(principal)]
LimitedDep = Annotated[Principal, Depends(limited)]  # routes that reach a model
AdminDep = Annotated[None, Depends(admin)]
