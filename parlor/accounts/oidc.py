"""OpenID Connect sign-in (authorization code flow with PKCE) against one configured issuer.

authlib builds the authorization request and exchanges the code; joserfc (authlib's JOSE library)
checks the ID token: its signature against the issuer's JWKS, and its iss, aud, exp and nonce. The
login's state, nonce and PKCE verifier travel in a short-lived signed cookie, so any replica can
finish a login another began, and a callback only completes in the browser that started it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OctKey

LOGIN_SECONDS = 600  # a sign-in must come back from the issuer within this long
METADATA_SECONDS = 3600  # discovery document and JWKS are cached this long (refreshed on an unknown key)
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class OidcError(Exception):
    """A sign-in that cannot complete: a machine-readable code and a message for the person."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Login:
    """One sign-in in flight: what the callback must find again."""

    state: str
    nonce: str
    verifier: str


@dataclass(frozen=True, slots=True)
class Identity:
    issuer: str
    subject: str
    email: str | None
    name: str  # a readable name for a new user


class NoOidc:
    """Single sign-on when no issuer is configured: offered nowhere (the routes answer 404)."""

    enabled = False

    async def begin(self, redirect_uri: str) -> tuple[str, str]:
        raise OidcError("oidc_disabled", "Single sign-on is not configured on this server.")

    async def finish(self, cookie: str | None, state: str, code: str, redirect_uri: str) -> Identity:
        raise OidcError("oidc_disabled", "Single sign-on is not configured on this server.")


class OidcClient:
    enabled = True

    def __init__(self, issuer: str, client_id: str, client_secret: str, scopes: str, http: httpx.AsyncClient):
        self.issuer = issuer.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._scopes = scopes
        self._http = http
        # the login cookie's key: derived from the client secret, which every replica already shares
        self._cookie_key = OctKey.import_key(hmac.new(client_secret.encode(), b"parlor-oidc-login",
                                                      hashlib.sha256).digest())
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._keys: tuple[float, KeySet] | None = None

    async def begin(self, redirect_uri: str) -> tuple[str, str]:
        """(the issuer's authorization URL to send the browser to, the signed login cookie's value)."""
        metadata = await self._discover()
        login = Login(secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48))
        async with self._oauth(redirect_uri) as oauth:
            url, _ = oauth.create_authorization_url(metadata["authorization_endpoint"], state=login.state,
                                                    code_verifier=login.verifier, nonce=login.nonce)
        return str(url), self._seal(login)

    async def finish(self, cookie: str | None, state: str, code: str, redirect_uri: str) -> Identity:
        """Checks the callback against the login cookie, exchanges the code, verifies the ID token."""
        login = self._open(cookie)
        if not hmac.compare_digest(login.state.encode(), state.encode()):
            raise OidcError("oidc_state_mismatch", "This sign-in was not started in this browser; start again.")
        metadata = await self._discover()
        try:
            async with self._oauth(redirect_uri) as oauth:
                token = await oauth.fetch_token(metadata["token_endpoint"], code=code, code_verifier=login.verifier,
                                                grant_type="authorization_code")
        except Exception as exc:  # authlib's OAuthError family, httpx's errors, a token that is not JSON
            raise OidcError("oidc_token_failed",
                            f"The identity provider refused the sign-in ({_short(exc)}).") from None
        id_token = token.get("id_token") if isinstance(token, dict) else None
        if not isinstance(id_token, str):
            raise OidcError("oidc_token_failed", "The identity provider sent no ID token.")
        return await self.verify(id_token, login.nonce)

    async def verify(self, id_token: str, nonce: str) -> Identity:
        """The ID token's identity, after checking its signature, issuer, audience, expiry and nonce."""
        algorithms = [a for a in (await self._discover()).get("id_token_signing_alg_values_supported", ["RS256"])
                      if a in SIGNING_ALGORITHMS]
        try:
            try:
                token = jwt.decode(id_token, await self._key_set(), algorithms=algorithms)
            except JoseError:  # the issuer may have rotated its keys: look once more
                token = jwt.decode(id_token, await self._key_set(refresh=True), algorithms=algorithms)
            claims = token.claims
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.issuer}, sub={"essential": True},
                aud={"essential": True, "value": self._client_id}, exp={"essential": True},
                nonce={"essential": True, "value": nonce}, leeway=60).validate(claims)
        except (JoseError, ValueError) as exc:
            raise OidcError("oidc_invalid_token", f"The ID token was refused ({_short(exc)}).") from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self._client_id:
            raise OidcError("oidc_invalid_token", "The ID token was issued to another party (azp).")
        email = claims.get("email") if isinstance(claims.get("email"), str) else None
        name = next((str(claims[c]) for c in ("preferred_username", "email", "name") if claims.get(c)),
                    f"sso-{claims['sub']}")
        return Identity(self.issuer, str(claims["sub"]), email, name)

    def _oauth(self, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(self._client_id, self._client_secret, scope=self._scopes, redirect_uri=redirect_uri,
                                 code_challenge_method="S256", timeout=10, follow_redirects=False)

    async def _discover(self) -> dict[str, Any]:
        if self._metadata and time.monotonic() - self._metadata[0] < METADATA_SECONDS:
            return self._metadata[1]
        metadata = await self._get_json(f"{self.issuer}/.well-known/openid-configuration")
        if str(metadata.get("issuer", "")).rstrip("/") != self.issuer:
            raise OidcError("oidc_unavailable", "The identity provider's discovery document names another issuer.")
        self._metadata = (time.monotonic(), metadata)
        return metadata

    async def _key_set(self, refresh: bool = False) -> KeySet:
        if self._keys and not refresh and time.monotonic() - self._keys[0] < METADATA_SECONDS:
            return self._keys[1]
        keys = KeySet.import_key_set(await self._get_json((await self._discover())["jwks_uri"]))  # type: ignore[arg-type]
        self._keys = (time.monotonic(), keys)
        return keys

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self._http.get(url, timeout=10, follow_redirects=False)
            response.raise_for_status()
            found = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcError("oidc_unavailable", f"The identity provider is unreachable ({_short(exc)}).") from None
        if not isinstance(found, dict):
            raise OidcError("oidc_unavailable", "The identity provider answered something that is not JSON.")
        return found

    def _seal(self, login: Login) -> str:
        claims = {"s": login.state, "n": login.nonce, "v": login.verifier, "exp": int(time.time()) + LOGIN_SECONDS}
        return jwt.encode({"alg": "HS256"}, claims, self._cookie_key)

    def _open(self, cookie: str | None) -> Login:
        expired = OidcError("oidc_login_expired", "This sign-in expired or was started elsewhere; start again.")
        if not cookie:
            raise expired
        try:
            claims = jwt.decode(cookie, self._cookie_key, algorithms=["HS256"]).claims
            jwt.JWTClaimsRegistry(exp={"essential": True}).validate(claims)
            return Login(str(claims["s"]), str(claims["n"]), str(claims["v"]))
        except (JoseError, ValueError, KeyError):
            raise expired from None


def _short(exc: BaseException) -> str:
    """An exception as a short line for a person: no secrets are in these (no tokens, no client secret)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:120]}" if text else type(exc).__name__
