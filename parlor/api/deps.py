"""What routes may use: the services built by the composition root, and who is calling."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from parlor.accounts import AccountStore, KeyExpired, Principal
from parlor.accounts.auth import Auth
from parlor.accounts.data import AccountData
from parlor.accounts.oidc import NoOidc, OidcClient
from parlor.api.errors import ApiError
from parlor.api.ratelimit import add_headers, headers_for, rate_limited
from parlor.assistants.groups import GroupStore
from parlor.assistants.service import Assistants
from parlor.attachments import AttachmentStore
from parlor.chat import ChatService, Gateway, ModelCatalog, RunRegistry
from parlor.chat.drain import Drain
from parlor.config import Settings
from parlor.experiments import Experiments
from parlor.limits import Limits, UsageReport
from parlor.memory import FactStore, MessageStore
from parlor.memory.instructions import InstructionStore
from parlor.observability import Metrics, RunStore
from parlor.rag import Knowledge
from parlor.shares import ShareStore

Check = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Services:
    """Everything routes use, built by the composition root (parlor/wiring/server.py) and handed to
    `create_api`, which makes `services` below return it."""

    settings: Settings
    accounts: AccountStore
    auth: Auth  # who a request's key makes the caller (with PARLOR_AUTH=off: the local user)
    store: MessageStore
    chat: ChatService
    runs: RunRegistry
    gateway: Gateway
    models: ModelCatalog  # the models each tier may choose (GET /api/models, /v1/models)
    limits: Limits
    usage: UsageReport
    checks: dict[str, Check]  # readiness (GET /readyz)
    memories: FactStore  # what the bot remembers about users (GET/DELETE /api/memories)
    experiments: Experiments  # A/B tests and feedback on answers
    data: AccountData  # a user's data rights: export, delete (GET/DELETE /api/account)
    knowledge: Knowledge  # documents: upload, ingest, search (503 when it could not start)
    oidc: OidcClient | NoOidc  # single sign-on (NoOidc: not configured)
    metrics: Metrics  # GET /metrics
    records: RunStore  # the run inspector's records
    drain: Drain  # a deploy's drain under way: not ready, no new turns
    attachments: AttachmentStore  # messages' images and PDFs (GET /api/files/…)
    shares: ShareStore  # read-only links to a snapshot of one chat
    assistants: Assistants  # users' configured chats, shared or not (/api/assistants)
    groups: GroupStore  # groups of users, kept by admins (/api/admin/groups)
    instructions: InstructionStore  # users' custom instructions (GET/PUT /api/me/instructions)


def services(request: Request) -> Services:
    """Replaced by `create_api` with one returning the Services it was given (FastAPI's override: the
    routes declare this dependency; the app decides what it returns)."""
    raise RuntimeError("create_api was not given the services")


ServicesDep = Annotated[Services, Depends(services)]

UNAUTHORIZED = ApiError(401, "unauthorized", "A valid API key is required (Authorization: Bearer <key>).",
                        {"WWW-Authenticate": "Bearer"})


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def principal(request: Request, svc: ServicesDep) -> Principal:
    key = bearer(request)
    found = await _authenticate(svc, key)
    if found is None:
        if key:
            await _count_invalid_key(request, svc)
        raise UNAUTHORIZED
    request.state.principal = found
    return found


async def _authenticate(svc: Services, key: str | None) -> Principal | None:
    try:
        return await svc.auth.caller(key)
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
    caller = await _authenticate(svc, token)
    if caller is None:
        raise UNAUTHORIZED
    if not caller.is_admin:
        raise ApiError(403, "forbidden", "This needs an admin.")


PrincipalDep = Annotated[Principal, Depends(principal)]
LimitedDep = Annotated[Principal, Depends(limited)]  # routes that reach a model
AdminDep = Annotated[None, Depends(admin)]
