"""What routes may use: the services built by the composition root, and who is calling."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from parlor.accounts import AccountStore, Principal
from parlor.api.errors import ApiError
from parlor.chat import ChatService, Gateway, RunRegistry
from parlor.config import Settings
from parlor.memory import MessageStore

Check = Callable[[], Awaitable[None]]


@dataclass
class Services:
    settings: Settings
    accounts: AccountStore
    store: MessageStore
    chat: ChatService
    runs: RunRegistry
    gateway: Gateway
    checks: dict[str, Check] = field(default_factory=dict)
    local_user: Principal | None = None  # set when auth is off


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
    found = await svc.accounts.authenticate(key) if key else None
    if found is None:
        raise UNAUTHORIZED
    request.state.principal = found
    return found


def is_admin_token(svc: Services, token: str | None) -> bool:
    admin = svc.settings.admin_token
    return bool(admin and token and hmac.compare_digest(token.encode(), admin.get_secret_value().encode()))


async def admin(request: Request, svc: ServicesDep) -> None:
    """The ADMIN_TOKEN bearer, or an admin user's key."""
    token = bearer(request)
    if is_admin_token(svc, token):
        return
    caller = svc.local_user or (await svc.accounts.authenticate(token) if token else None)
    if caller is None:
        raise UNAUTHORIZED
    if not caller.is_admin:
        raise ApiError(403, "forbidden", "This needs an admin.")


PrincipalDep = Annotated[Principal, Depends(principal)]
AdminDep = Annotated[None, Depends(admin)]
