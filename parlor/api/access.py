"""Who may call what: every route's access rule, declared here in one table.

`tests/test_authorization.py` calls every route of the app as anonymous, as another user, as an admin
user, with the ADMIN_TOKEN and as the owner, and checks each answer against the rule below; a route
missing from this table fails that test. A new route takes one line here, e.g.

    "GET /api/documents/{document_id}/chunks": OWNER,

The table declares; the routes' dependencies enforce (`PrincipalDep`, `AdminDep`, the metrics token). The
same test checks that each route's dependencies match its rule, so the two cannot drift apart.
"""

from __future__ import annotations

from enum import StrEnum


class Rule(StrEnum):
    PUBLIC = "public"  # anyone, no key
    USER = "user"  # any signed-in user (API key), acting on their own data only
    OWNER = "owner"  # a signed-in user, on a resource named in the path that is theirs: anyone else gets 404
    ADMIN = "admin"  # admin users and the ADMIN_TOKEN bearer; other users get 403
    METRICS = "metrics"  # the PARLOR_METRICS_TOKEN bearer when it is set, else anyone


PUBLIC, USER, OWNER, ADMIN, METRICS = Rule.PUBLIC, Rule.USER, Rule.OWNER, Rule.ADMIN, Rule.METRICS

RULES: dict[str, Rule] = {
    # health, docs, the web UI
    "GET /healthz": PUBLIC,
    "GET /readyz": PUBLIC,
    "GET /api/openapi.json": PUBLIC,
    "GET /api/docs": PUBLIC,
    "GET /docs/oauth2-redirect": PUBLIC,  # FastAPI puts it there, whatever docs_url is
    "GET /{path:path}": PUBLIC,  # the SPA's files and index.html (its /api/* and /v1/* misses answer 404)
    "GET /assets": PUBLIC,  # the built UI's static files
    "GET /metrics": METRICS,
    "GET /auth/oidc/login": PUBLIC,  # single sign-on: 404 oidc_disabled unless PARLOR_OIDC_ISSUER is set
    "GET /auth/oidc/callback": PUBLIC,
    "GET /api/auth/config": PUBLIC,  # whether keys are needed and SSO is offered: the sign-in screen asks
    # the caller, their chats and data
    "GET /api/me": USER,
    "GET /api/keys": USER,
    "POST /api/keys": USER,
    "DELETE /api/keys/{key_id}": OWNER,
    "GET /api/account/export": USER,
    "DELETE /api/account": USER,  # the caller's own account, with a confirmation field
    "POST /api/chat": USER,
    "GET /api/chat/{thread_id}/stream": OWNER,
    "POST /api/chat/{thread_id}/stop": OWNER,
    "GET /api/threads": USER,
    "GET /api/threads/{thread_id}": OWNER,
    "PATCH /api/threads/{thread_id}": OWNER,
    "DELETE /api/threads/{thread_id}": OWNER,
    # versions and branches: switch the thread to the branch through a message
    "PUT /api/threads/{thread_id}/leaf": OWNER,
    "GET /api/usage": USER,
    "GET /api/runs": USER,
    "GET /api/runs/{request_id}": OWNER,
    "GET /api/memories": USER,
    "POST /api/memories": USER,
    "DELETE /api/memories": USER,
    "DELETE /api/memories/{memory_id}": OWNER,
    "POST /api/documents": USER,
    "GET /api/documents": USER,
    "GET /api/documents/{document_id}": OWNER,
    "GET /api/documents/{document_id}/events": OWNER,
    "GET /api/documents/{document_id}/chunks": OWNER,
    "GET /api/documents/{document_id}/file": OWNER,
    "DELETE /api/documents/{document_id}": OWNER,
    "POST /api/messages/{message_id}/feedback": OWNER,
    "GET /api/models": USER,  # those the caller's tier may use
    "GET /api/files/{thread_id}/{name}": OWNER,  # a message's image or PDF
    # sharing and export of one chat: the owner's links, and the signed-out reader's (rate-limited by address)
    "POST /api/threads/{thread_id}/shares": OWNER,
    "GET /api/threads/{thread_id}/shares": OWNER,
    "DELETE /api/shares/{share_id}": OWNER,
    "GET /api/shared/{token}": PUBLIC,  # 404 share_not_found unless the token is a live link's
    "GET /api/shared/{token}/files/{name}": PUBLIC,  # only the files the shared snapshot shows
    "GET /api/threads/{thread_id}/export": OWNER,  # ?format=markdown|json, a download
    # custom instructions and the memory manager (issue 23 item 2)
    "GET /api/me/instructions": USER,
    "PUT /api/me/instructions": USER,
    "PATCH /api/memories/{memory_id}": OWNER,
    # the OpenAI-compatible gateway
    "GET /v1/models": USER,
    "POST /v1/chat/completions": USER,
    # administration
    "POST /api/users": ADMIN,
    "GET /api/users": ADMIN,
    "PATCH /api/users/{user_id}": ADMIN,
    "GET /api/admin/usage": ADMIN,
    "GET /api/admin/runs": ADMIN,
    "GET /api/admin/runs/{request_id}": ADMIN,
    "GET /api/admin/experiments": ADMIN,
    "GET /api/admin/experiments/{name}": ADMIN,
    "PUT /api/admin/experiments/{name}": ADMIN,
    "DELETE /api/admin/experiments/{name}": ADMIN,
    "GET /api/admin/experiments/{name}/results": ADMIN,
    # assistants and groups (README "Assistants and groups")
    "GET /api/assistants": USER,  # those the caller may see: own, public, shared with a group of theirs
    "POST /api/assistants": USER,
    "GET /api/assistants/{assistant_id}": OWNER,  # or shared with the caller; anyone else gets 404
    "PATCH /api/assistants/{assistant_id}": OWNER,  # a caller who only sees it gets 403 not_assistant_owner
    "DELETE /api/assistants/{assistant_id}": OWNER,
    "GET /api/tools": USER,  # the tools an assistant may offer
    "GET /api/admin/groups": ADMIN,
    "POST /api/admin/groups": ADMIN,
    "PATCH /api/admin/groups/{group_id}": ADMIN,
    "DELETE /api/admin/groups/{group_id}": ADMIN,
}


def rule_for(method: str, path: str) -> Rule | None:
    """The declared rule of a route (`method` upper case, `path` as the router spells it), if any."""
    return RULES.get(f"{method} {path}")
