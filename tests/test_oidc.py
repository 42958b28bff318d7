"""OpenID Connect sign-in over real HTTP: a real `parlor serve` and a test issuer on loopback (discovery,
JWKS, authorize, token). The whole flow, then ID tokens that must be refused."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc.jwk import RSAKey

from tests.client import auth
from tests.conftest import RunningServer, upstream_provider
from tests.oidc_issuer import OidcIssuer, Person
from tests.server import ParlorServer
from tests.upstream import Upstream


@pytest.fixture(scope="module")
def issuer() -> Iterator[OidcIssuer]:
    with OidcIssuer() as running:
        yield running


@pytest.fixture(scope="module")
def sso(upstream: Upstream, issuer: OidcIssuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    process = ParlorServer(tmp_path_factory.mktemp("oidc"), [upstream_provider(upstream)],
                           PARLOR_OIDC_ISSUER=issuer.url, PARLOR_OIDC_CLIENT_ID=issuer.client_id,
                           PARLOR_OIDC_CLIENT_SECRET=issuer.client_secret, PARLOR_OIDC_KEY_DAYS="7").start(90)
    try:
        yield RunningServer(process, "")
    finally:
        process.stop()


@pytest.fixture
def person(issuer: OidcIssuer) -> Person:
    issuer.person = Person(f"sub-{uuid.uuid4().hex[:8]}", "ada@example.com", f"ada-{uuid.uuid4().hex[:6]}")
    return issuer.person


def start(server: RunningServer) -> tuple[httpx.Client, str]:
    """Begins a sign-in in a fresh 'browser'; returns it and the issuer's authorize URL."""
    browser = httpx.Client(base_url=server.url, follow_redirects=False, timeout=10)
    login = browser.get("/auth/oidc/login")
    assert login.status_code == 302, login.text
    assert "parlor-oidc" in login.cookies
    set_cookie = login.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    return browser, login.headers["location"]


def at_issuer(authorize_url: str) -> str:
    """The issuer signs the person in at once: returns the callback URL it redirects to."""
    response = httpx.get(authorize_url, follow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    return response.headers["location"]


def sign_in(server: RunningServer) -> httpx.Response:
    browser, authorize = start(server)
    try:
        return browser.get(at_issuer(authorize))
    finally:
        browser.close()


def issued_key(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/#parlor-key=pk-")
    assert response.headers["cache-control"] == "no-store"
    return location.split("=", 1)[1]


def sso_error(response: httpx.Response) -> str:
    """A failed callback sends the browser back to the sign-in screen with only a code in the fragment."""
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/#parlor-sso-error=") and "pk-" not in location
    assert response.headers["cache-control"] == "no-store"
    return location.split("=", 1)[1]


def users(server: RunningServer) -> list[dict[str, str]]:
    listing = httpx.get(f"{server.url}/api/users", headers=auth(server.process.admin_token))
    found: list[dict[str, str]] = listing.json()["users"]
    return found


def test_the_whole_sign_in_flow(sso: RunningServer, issuer: OidcIssuer, person: Person) -> None:
    browser, authorize = start(sso)
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(f"{issuer.url}/authorize?")
    assert query["client_id"] == [issuer.client_id] and query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"] and "openid" in query["scope"][0].split()
    assert query["redirect_uri"] == [f"{sso.url}/auth/oidc/callback"]
    assert len(query["state"][0]) >= 32 and len(query["nonce"][0]) >= 32
    done = browser.get(at_issuer(authorize))
    browser.close()
    key = issued_key(done)
    assert 'parlor-oidc=""' in done.headers["set-cookie"]  # the login cookie is cleared

    token_request = issuer.token_requests[-1]
    assert token_request["grant_type"] == "authorization_code" and token_request["code_verifier"]
    me = httpx.get(f"{sso.url}/api/me", headers=auth(key)).json()
    assert me["name"] == person.username and me["role"] == "user"
    (listed,) = httpx.get(f"{sso.url}/api/keys", headers=auth(key)).json()["keys"]
    assert listed["name"] == "single sign-on" and listed["expires_at"] is not None

    again = issued_key(sign_in(sso))  # the same person again: the same user, one more key
    assert again != key
    assert httpx.get(f"{sso.url}/api/me", headers=auth(again)).json()["id"] == me["id"]
    assert [u["name"] for u in users(sso)].count(person.username) == 1


def test_same_name_at_the_issuer_is_another_user(sso: RunningServer, issuer: OidcIssuer, person: Person) -> None:
    first = issued_key(sign_in(sso))
    issuer.person = Person(f"sub-{uuid.uuid4().hex[:8]}", "other@example.com", person.username)
    second = issued_key(sign_in(sso))
    a, b = (httpx.get(f"{sso.url}/api/me", headers=auth(k)).json() for k in (first, second))
    assert a["id"] != b["id"] and b["name"].startswith(f"{person.username}-")


@pytest.mark.parametrize("forgery", ["wrong key", "wrong audience", "wrong issuer", "expired", "wrong nonce",
                                     "no subject"])
def test_forged_id_tokens_are_refused(sso: RunningServer, issuer: OidcIssuer, person: Person, forgery: str) -> None:
    if forgery == "wrong key":
        issuer.forge_key = RSAKey.generate_key(2048, parameters={"kid": issuer.key.kid})
    else:
        issuer.forge = {"wrong audience": {"aud": "someone-else"}, "wrong issuer": {"iss": "https://evil.example"},
                        "expired": {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
                        "wrong nonce": {"nonce": "replayed-nonce"}, "no subject": {"sub": None}}[forgery]
    before = len(users(sso))
    refused = sign_in(sso)
    assert sso_error(refused) == "oidc_invalid_token"
    assert "pk-" not in refused.text
    assert len(users(sso)) == before, "a refused sign-in created a user"


def test_a_callback_needs_the_browser_that_started_it(sso: RunningServer, person: Person) -> None:
    browser, authorize = start(sso)
    callback = at_issuer(authorize)
    with httpx.Client(follow_redirects=False) as victim:  # login CSRF: someone else's callback URL
        stolen = victim.get(callback)
    assert sso_error(stolen) == "oidc_login_expired"

    other_browser, _ = start(sso)
    mixed = other_browser.get(callback)  # a cookie of this server's, but for another login
    other_browser.close()
    assert sso_error(mixed) == "oidc_state_mismatch"

    assert browser.get(callback).status_code == 303  # the right browser still completes
    replay = browser.get(callback)  # the issuer accepts a code once
    browser.close()
    assert sso_error(replay) in ("oidc_token_failed", "oidc_login_expired")


def test_a_tampered_login_cookie_is_refused(sso: RunningServer, person: Person) -> None:
    browser, authorize = start(sso)
    callback = at_issuer(authorize)
    sealed = browser.cookies["parlor-oidc"]
    head, body, signature = sealed.split(".")
    browser.cookies.set("parlor-oidc", f"{head}.{body}.{signature[::-1]}")
    refused = browser.get(callback)
    browser.close()
    assert sso_error(refused) == "oidc_login_expired"


def test_the_issuer_saying_no(sso: RunningServer) -> None:
    denied = httpx.get(f"{sso.url}/auth/oidc/callback", params={"error": "access_denied", "state": "x"})
    assert sso_error(denied) == "oidc_denied"
    assert "access_denied" not in denied.headers["location"]  # the provider's words stay out of the address

