"""Schemathesis against a real server's `/api/openapi.json`: every operation of `/api` and `/v1`, with
generated valid and invalid requests, as a signed-in user. No answer may be a 5XX, and every answer must
match what the schema documents (status code, content type, body schema). Examples per operation are
bounded (FUZZ_EXAMPLES, default 15) so the run stays around a minute in CI."""

from __future__ import annotations

import os
import re
import uuid
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.client import auth
from tests.conftest import upstream_provider
from tests.server import ParlorServer
from tests.test_authorization import ROOT, _no_lifespan, create_api
from tests.upstream import Upstream

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
CALLS: Counter[str] = Counter()  # per operation, reported at the end
CHECKS = [schemathesis.checks.not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_server(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParlorServer]:
    process = ParlorServer(tmp_path_factory.mktemp("fuzz"), [upstream_provider(upstream)],
                           PARLOR_MAX_UPLOAD_BYTES="200000").start(timeout=120)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def key(fuzz_server: ParlorServer) -> str:
    return fuzz_server.create_user("fuzzer")


def _schema() -> schemathesis.BaseSchema:
    """The app's own schema (the one the server serves at /api/openapi.json, built without starting it),
    so that the operations are known when pytest collects; the calls go to the real server."""
    app = create_api(_no_lifespan, 1_000_000, ROOT / "web" / "dist", max_upload_bytes=200_000)
    return schemathesis.openapi.from_dict(app.openapi()).include(path_regex=r"^/(api|v1)/")


schema = _schema()


def test_the_served_schema_is_the_one_fuzzed(fuzz_server: ParlorServer) -> None:
    served = httpx.get(f"{fuzz_server.url}/api/openapi.json").json()
    assert served["paths"].keys() == schema.raw_schema["paths"].keys()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_server_error_and_no_schema_violation(case: schemathesis.Case, fuzz_server: ParlorServer,
                                                 key: str) -> None:
    if case.path.startswith(("/api/admin", "/api/users")):
        headers = auth(fuzz_server.admin_token)
    elif case.method == "DELETE" and case.path == "/api/account":  # may really delete: a throwaway caller
        headers = auth(fuzz_server.create_user(f"gone-{uuid.uuid4().hex[:8]}"))
    else:
        headers = auth(key)
    if case.headers:
        headers = {**case.headers, **headers}
    CALLS[f"{case.method} {case.path}"] += 1
    case.call_and_validate(base_url=fuzz_server.url, headers=headers, checks=CHECKS, timeout=30)


def test_zz_report_fuzzing_counts() -> None:
    """Prints the calls made per operation (pytest -s shows them); runs after the fuzzing above."""
    if not CALLS:
        pytest.skip("the fuzzing tests did not run in this session")
    for operation, calls in sorted(CALLS.items()):
        print(f"fuzz: {calls:4d} calls  {operation}")
    print(f"fuzz: {sum(CALLS.values())} calls over {len(CALLS)} operations")
    assert all(re.match(r"^[A-Z]+ /(api|v1)/", op) for op in CALLS)
