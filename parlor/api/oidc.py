"""Sign-in with OpenID Connect: `/auth/oidc/login` sends the browser to the issuer; its callback checks
the ID token, finds or creates the user by (issuer, subject) and hands the browser a new API key in the
URL fragment of `/` (a fragment never reaches a server, a log or a Referer), where the web UI keeps it.
A failed callback lands in the web UI too, as `/#parlor-sso-error=<code>`: a browser, not a program, follows it."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from parlor.accounts.oidc import LOGIN_SECONDS, NoOidc, OidcClient, OidcError
from parlor.api.deps import ServicesDep
from parlor.api.errors import ApiError
from parlor.db import utcnow

log = logging.getLogger(__name__)
router = APIRouter(prefix="/auth/oidc", tags=["auth"])
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
STATUS = {"oidc_unavailable": 502, "oidc_login_expired": 400, "oidc_state_mismatch": 400}


def _client(svc: ServicesDep) -> OidcClient | NoOidc:
    if not svc.oidc.enabled:
        raise ApiError(404, "oidc_disabled", "Single sign-on is not configured on this server (PARLOR_OIDC_ISSUER).")
    return svc.oidc


def _redirect_uri(request: Request, svc: ServicesDep) -> str:
    return svc.settings.oidc_redirect_url or str(request.url_for("oidc_callback"))


def _cookie(redirect_uri: str) -> tuple[str, bool]:
    """(name, secure): over HTTPS the `__Host-` prefix pins it to this host (no subdomain can plant one)."""
    secure = redirect_uri.startswith("https://")
    return ("__Host-parlor-oidc" if secure else "parlor-oidc"), secure


@router.get("/login")
async def oidc_login(request: Request, svc: ServicesDep) -> Response:
    oidc = _client(svc)
    redirect_uri = _redirect_uri(request, svc)
    try:
        url, sealed = await oidc.begin(redirect_uri)
    except OidcError as exc:
        raise ApiError(STATUS.get(exc.code, 401), exc.code, exc.message) from None
    name, secure = _cookie(redirect_uri)
    response = RedirectResponse(url, status_code=302, headers=NO_STORE)
    # Lax, not Strict: the issuer's redirect back is a cross-site navigation, and must carry it.
    response.set_cookie(name, sealed, max_age=LOGIN_SECONDS, path="/", secure=secure, httponly=True, samesite="lax")
    return response


@router.get("/callback", name="oidc_callback")
async def oidc_callback(request: Request, svc: ServicesDep,
                        state: Annotated[str, Query(max_length=512)] = "",
                        code: Annotated[str, Query(max_length=4096)] = "",
                        error: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    oidc = _client(svc)
    redirect_uri = _redirect_uri(request, svc)
    name, _ = _cookie(redirect_uri)
    if error:
        return _failed(OidcError("oidc_denied", f"The identity provider did not sign you in ({error[:100]})."))
    try:
        who = await oidc.finish(request.cookies.get(name), state, code, redirect_uri)
    except OidcError as exc:
        return _failed(exc)
    expires_at = utcnow() + timedelta(days=svc.settings.oidc_key_days)
    signed_in = await svc.accounts.sign_in(who.issuer, who.subject, who.email, who.name, svc.settings.default_tier,
                                           expires_at)
    response = RedirectResponse(f"/#parlor-key={signed_in.api_key}", status_code=303, headers=NO_STORE)
    response.delete_cookie(name, path="/")
    return response


def _failed(exc: OidcError) -> Response:
    """Back to the sign-in screen, which explains the code; the details go to the log, not the address bar."""
    log.warning("single sign-on failed: %s (%s)", exc.code, exc.message)
    return RedirectResponse(f"/#parlor-sso-error={exc.code}", status_code=303, headers=NO_STORE)
