"""What the web UI needs to know before anyone signs in: whether keys are required, and whether single
sign-on is offered (so it can show the "Sign in with SSO" button). Public, and says nothing secret."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from parlor.api.deps import ServicesDep

router = APIRouter(prefix="/api/auth", tags=["auth"])


class AuthConfig(BaseModel):
    auth: bool  # False with PARLOR_AUTH=off: everyone is the one local user
    oidc: bool  # True when /auth/oidc/login is configured


@router.get("/config")
async def auth_config(svc: ServicesDep) -> AuthConfig:
    return AuthConfig(auth=svc.auth.keys_required, oidc=svc.oidc.enabled)
