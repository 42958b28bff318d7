"""The authorization table: every route of the app, taken from the app itself and its OpenAPI schema, is
called as anonymous, as another user, as an admin user, with the ADMIN_TOKEN and as the owner of the
resources its path names, and each answer is checked against the route's rule in `parlor/api/access.py`.
A route without a rule fails here: declare it there (one line)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount

from parlor.api import create_api
from parlor.api.access import RULES, Rule
from parlor.api.deps import admin, principal
from tests.client import auth, chat, post_chat
from tests.conftest import upstream_provider
from tests.helpers.images import file_part, image_bytes
from tests.server import ROOT, ParlorServer
from tests.upstream import Script, ScriptedToolCall, Upstream

METRICS_TOKEN = "metrics-secret-token"
DENIED = {401, 403}


@asynccontextmanager
async def _no_lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield


def app_routes() -> dict[str, Any]:
    """Every route the app serves ("METHOD /path" → its route), schema or not (docs, /metrics, the UI)."""
    app = create_api(_no_lifespan, 1_000_000, ROOT / "web" / "dist", max_upload_bytes=1_000_000)
    found: dict[str, Any] = {}
    for context in iter_route_contexts(app.routes):  # included routers' routes, with their prefixes
        route = context.original_route
        methods = {"GET"} if isinstance(route, Mount) else (context.methods or set()) - {"HEAD"}
        for method in sorted(methods):
            found[f"{method} {context.path}"] = route
    return found


ROUTES = app_routes()
# destructive calls last: the owner's shared resources stay in place for the other routes' checks
ORDER = sorted(ROUTES, key=lambda r: (r.startswith("DELETE"), r))


def test_every_route_declares_a_rule_and_every_rule_a_route() -> None:
    missing = [r for r in ROUTES if r not in RULES]
    assert not missing, f"declare these routes' access rules in parlor/api/access.py: {missing}"
    stale = [r for r in RULES if r not in ROUTES]
    assert not stale, f"rules for routes that do not exist (remove them from parlor/api/access.py): {stale}"


def _calls(route: Any) -> set[Callable[..., Any]]:
    found: set[Callable[..., Any]] = set()
    stack = list(route.dependant.dependencies) if isinstance(route, APIRoute) else []
    while stack:
        dependency = stack.pop()
        if dependency.call is not None:
            found.add(dependency.call)
        stack.extend(dependency.dependencies)
    return found


@pytest.mark.parametrize("route", ORDER)
def test_the_route_enforces_its_rule_through_its_dependencies(route: str) -> None:
    """The table declares, the dependencies enforce: they must agree."""
    rule, calls = RULES.get(route), _calls(ROUTES[route])
    if rule in (Rule.USER, Rule.OWNER):
        assert principal in calls and admin not in calls, f"{route} needs PrincipalDep (or LimitedDep)"
    elif rule is Rule.ADMIN:
        assert admin in calls, f"{route} needs AdminDep"
    elif rule is not None:
        assert principal not in calls and admin not in calls, f"{route} is {rule} but asks for a caller"


# --- the live table -------------------------------------------------------------------------------------


@dataclass
class World:
    """A server, the owner's resources, and the other callers."""

    server: ParlorServer
    upstream: Upstream
    owner: str
    admin_key: str
    schema: dict[str, Any]
    shared: dict[str, str] = field(default_factory=dict)  # path parameter → one of the owner's resources

    @property
    def url(self) -> str:
        return self.server.url

    def user(self) -> str:
        return self.server.create_user(f"other-{uuid.uuid4().hex[:8]}")

    def fresh(self, param: str) -> str:
        """A new resource of the owner's, named by `param` (for routes that destroy it)."""
        maker = MAKERS.get(param)
        if maker is None:
            raise AssertionError(f"tests/test_authorization.py does not know how to make a {param!r}: add a "
                                 f"maker to MAKERS")
        return maker(self)


def _thread(world: World) -> str:
    """A thread of the owner's whose first message carries an image (for the routes of its files)."""
    thread = f"authz-{uuid.uuid4().hex[:12]}"
    message = {"id": uuid.uuid4().hex, "role": "user",
               "parts": [{"type": "text", "text": f"hello {thread}"}, file_part(image_bytes(), "image/png")]}
    result = post_chat(world.url, world.owner, {"id": thread, "messages": [message]})
    assert result.status == 200 and result.done, result.body
    return thread


def _file_name(world: World) -> str:
    """The name of the image in the owner's shared thread."""
    thread = world.shared["thread_id"]
    body = httpx.get(f"{world.url}/api/threads/{thread}", headers=auth(world.owner)).json()
    url = next(p["url"] for m in body["messages"] for p in m["parts"] if p["type"] == "file")
    return str(url.rsplit("/", 1)[1])


def _run(world: World) -> str:
    result = chat(world.url, world.owner, f"authz-{uuid.uuid4().hex[:12]}", "a run")
    request_id = result.headers["x-request-id"]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # the record is written once the turn is over
        if httpx.get(f"{world.url}/api/runs/{request_id}", headers=auth(world.owner)).status_code == 200:
            return request_id
        time.sleep(0.05)
    raise AssertionError("the run record did not appear")


def _document(world: World) -> str:
    data = f"A note about {uuid.uuid4().hex}: the owner's private document.".encode()
    response = httpx.post(f"{world.url}/api/documents", headers=auth(world.owner),
                          files={"file": ("note.txt", data, "text/plain")}, timeout=30)
    assert response.status_code == 202, response.text
    document_id: str = response.json()["id"]
    return document_id


def _memory(world: World) -> str:
    word = uuid.uuid4().hex[:10]
    world.upstream.push(Script(tool_calls=[ScriptedToolCall("remember", json.dumps({"fact": f"Likes {word}."}))]),
                        match=f"remember {word}")
    world.upstream.push(Script(text="Noted."), match=f"remember {word}")
    assert chat(world.url, world.owner, uuid.uuid4().hex, f"remember {word}").status == 200
    facts = httpx.get(f"{world.url}/api/memories", headers=auth(world.owner)).json()["memories"]
    return str(next(f["id"] for f in facts if word in f["text"]))


def _user_id(world: World) -> str:
    key = world.user()
    user_id: str = httpx.get(f"{world.url}/api/me", headers=auth(key)).json()["id"]
    return user_id


def _key(world: World) -> str:
    response = httpx.post(f"{world.url}/api/keys", json={"name": "spare"}, headers=auth(world.owner))
    assert response.status_code == 201, response.text
    key_id: str = response.json()["id"]
    return key_id


def _message(world: World) -> str:
    thread = _thread(world)
    messages = httpx.get(f"{world.url}/api/threads/{thread}", headers=auth(world.owner)).json()["messages"]
    return str(next(m["id"] for m in messages if m["role"] == "assistant"))


def _share(world: World) -> dict[str, str]:
    """A link to the owner's shared thread (whose image the shared file route then serves)."""
    response = httpx.post(f"{world.url}/api/threads/{world.shared['thread_id']}/shares", json={},
                          headers=auth(world.owner))
    assert response.status_code == 201, response.text
    made: dict[str, str] = response.json()
    return made


def _assistant(world: World) -> str:
    """A private assistant of the owner's (nobody else sees it: 404 for them)."""
    response = httpx.post(f"{world.url}/api/assistants", json={"name": "Owner's helper"}, headers=auth(world.owner))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


MAKERS: dict[str, Callable[[World], str]] = {
    "thread_id": _thread, "request_id": _run, "document_id": _document, "memory_id": _memory,
    "user_id": _user_id, "key_id": _key, "message_id": _message, "name": _file_name,  # after thread_id
    "token": lambda world: _share(world)["token"], "share_id": lambda world: _share(world)["id"],
    "assistant_id": _assistant,
}
ABSENT = "absent-0123456789"  # an id nobody has
ABSENT_NAMES = {"name": "0123456789abcdef.png"}  # a file name nobody has, of the form the route takes


@pytest.fixture(scope="module")
def world(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # the admin token on a user route counts as an invalid key: more than the default 30 a minute here
    seeing = {**upstream_provider(upstream), "vision": True}  # the owner's threads carry an image
    process = ParlorServer(tmp_path_factory.mktemp("authz"), [seeing],
                           PARLOR_METRICS_TOKEN=METRICS_TOKEN,
                           PARLOR_AUTH_FAILURES_PER_MINUTE="1000").start(timeout=120)
    try:
        owner = process.create_user("owner")
        admin_key = process.create_user("boss")
        boss = httpx.get(f"{process.url}/api/me", headers=auth(admin_key)).json()["id"]
        promoted = httpx.patch(f"{process.url}/api/users/{boss}", json={"role": "admin"},
                               headers=auth(process.admin_token))
        assert promoted.status_code == 200, promoted.text
        schema = httpx.get(f"{process.url}/api/openapi.json").json()
        built = World(process, upstream, owner, admin_key, schema)
        for name, make in MAKERS.items():  # in order: a file's name is read from the thread made before it
            built.shared[name] = make(built)
        yield built
    finally:
        process.stop()


def test_the_live_schema_lists_only_declared_routes(world: World) -> None:
    operations = [f"{m.upper()} {p}" for p, ops in world.schema["paths"].items() for m in ops]
    assert operations and not [o for o in operations if o not in RULES]


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = spec
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def minimal(schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    """The smallest instance of a JSON schema that is likely valid (enough to get past validation)."""
    schema = _resolve(schema, spec)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if _resolve(o, spec).get("type") != "null"] or schema[key]
            return minimal(options[0], spec)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {name: minimal(props.get(name, {}), spec) for name in schema.get("required", [])}
    if kind == "array":
        return [minimal(schema.get("items", {}), spec) for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    return "x" * max(1, schema.get("minLength", 1))


@dataclass
class Call:
    method: str
    path: str
    kwargs: dict[str, Any]


def _call(world: World, route: str, ids: dict[str, str]) -> Call:
    method, template = route.split(" ", 1)
    path = template.replace("{path:path}", "some/page")
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    kwargs: dict[str, Any] = {}
    operation = world.schema["paths"].get(template, {}).get(method.lower(), {})
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        kwargs["json"] = minimal(content["application/json"]["schema"], world.schema)
        if "message_id" in kwargs["json"] and "thread_id" in ids:  # PUT .../leaf: a message of that thread
            kwargs["json"]["message_id"] = _first_message(world, ids["thread_id"])
    elif "multipart/form-data" in content:
        kwargs["files"] = {"file": ("probe.txt", f"probe {uuid.uuid4().hex}".encode(), "text/plain")}
    return Call(method, path, kwargs)


def _first_message(world: World, thread_id: str) -> str:
    found = httpx.get(f"{world.url}/api/threads/{thread_id}", headers=auth(world.owner))
    return str(found.json()["messages"][0]["id"]) if found.status_code == 200 else ABSENT


def _send(world: World, call: Call, token: str | None) -> httpx.Response:
    headers = auth(token) if token else {}
    return httpx.request(call.method, world.url + call.path, headers=headers, timeout=30, **call.kwargs)


def _params(route: str) -> list[str]:
    return [p.strip("{}") for p in route.split(" ", 1)[1].split("/") if p.startswith("{") and ":" not in p]


def _id(world: World, param: str, rule: Rule, destructive: bool) -> str:
    """The owner's resource for `param` (a fresh one when the call destroys it); any name off owner routes."""
    if destructive:
        return world.fresh(param)
    if param in world.shared:
        return world.shared[param]
    return world.fresh(param) if rule is Rule.OWNER else f"probe-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("route", ORDER)
def test_access(world: World, route: str) -> None:
    rule = RULES.get(route)
    assert rule is not None, f"{route} has no rule in parlor/api/access.py"
    destructive = route.startswith("DELETE") and rule is Rule.OWNER
    ids = {p: _id(world, p, rule, destructive) for p in _params(route)}
    call = _call(world, route, ids)
    answers: dict[str, int] = {}

    def expect(who: str, token: str | None, ok: Callable[[int], bool], target: Call = call) -> None:
        status = _send(world, target, token).status_code
        answers[who] = status
        assert status < 500 and ok(status), f"{route} as {who}: {status} (rule {rule}; so far {answers})"

    admin_token = world.server.admin_token
    if rule is Rule.PUBLIC:  # a live share link (the world's token is real) opens for anyone
        expect("anonymous", None, lambda s: s == 200 if "token" in ids else s not in DENIED)
    elif rule is Rule.METRICS:
        expect("anonymous", None, lambda s: s == 401)
        expect("a user", world.user(), lambda s: s == 401)
        expect("the admin token", admin_token, lambda s: s == 401)
        expect("the metrics token", METRICS_TOKEN, lambda s: s == 200)
    elif rule is Rule.ADMIN:
        expect("anonymous", None, lambda s: s == 401)
        expect("a user", world.user(), lambda s: s == 403)
        expect("an admin user", world.admin_key, lambda s: s not in DENIED)
        expect("the admin token", admin_token, lambda s: s not in DENIED)
    elif rule is Rule.USER:
        expect("anonymous", None, lambda s: s == 401)
        expect("the admin token", admin_token, lambda s: s == 401)  # a key for admin routes, not a user
        expect("a user", world.user(), lambda s: s not in DENIED)
        expect("an admin user", world.admin_key, lambda s: s not in DENIED)
    else:
        _expect_owner_only(world, route, call, ids, expect)


def _expect_owner_only(world: World, route: str, call: Call, ids: dict[str, str],
                       expect: Callable[..., None]) -> None:
    """Anyone but the owner gets exactly what an id that does not exist gets (404, or an empty 204): no
    way to tell someone else's resource from none. The owner gets through."""
    other = world.user()
    absent = _call(world, route, {p: ABSENT_NAMES.get(p, ABSENT) for p in ids})
    nobody = _send(world, absent, other).status_code
    assert nobody in (404, 204), f"{route} for an id nobody has: {nobody}"
    expect("anonymous", None, lambda s: s == 401)
    expect("the admin token", world.server.admin_token, lambda s: s == 401)
    expect("another user", other, lambda s: s == nobody)
    expect("an admin user", world.admin_key, lambda s: s == nobody)
    expect("the owner", world.owner, lambda s: s < 400)


def test_the_owners_resources_survived_everyone_elses_calls(world: World) -> None:
    """Runs after the table: nothing another caller did touched the owner's shared resources."""
    checks = {"thread_id": "/api/threads/{}", "document_id": "/api/documents/{}", "request_id": "/api/runs/{}",
              "assistant_id": "/api/assistants/{}"}
    for param, template in checks.items():
        response = httpx.get(world.url + template.format(world.shared[param]), headers=auth(world.owner))
        assert response.status_code == 200, (param, response.text)
    facts = httpx.get(f"{world.url}/api/memories", headers=auth(world.owner)).json()["memories"]
    assert world.shared["memory_id"] in [f["id"] for f in facts]
