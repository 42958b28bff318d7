"""Shared fixtures: the scripted upstream LLM, and a real Parlor server talking to it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests import sdk
from tests.helpers.spans import memory_exporter
from tests.pg import fresh_database
from tests.server import ParlorServer
from tests.upstream import Upstream


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    with Upstream() as server:
        yield server


def upstream_provider(upstream: Upstream, name: str = "up") -> dict[str, object]:
    # The shared servers' breaker never opens: tests that script failures must not starve the others.
    return {"name": name, "kind": "openai", "base_url": upstream.url, "model": "test-model", "read_timeout": 10,
            "breaker_threshold": 100_000}


@dataclass
class RunningServer:
    process: ParlorServer
    api_key: str

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def admin_token(self) -> str:
        return self.process.admin_token

    def user(self, prefix: str = "user") -> str:
        """A new user's API key."""
        return self.process.create_user(f"{prefix}-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="session")
def server(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    process = ParlorServer(tmp_path_factory.mktemp("parlor"), [upstream_provider(upstream)]).start()
    try:
        yield RunningServer(process, process.create_user("alice"))
    finally:
        process.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: a SQLite file in tmp_path, or a fresh PostgreSQL database (dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'parlor.db'}"
        return
    async with fresh_database() as url:
        yield url


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database of this test's own (dropped afterwards)."""
    async with fresh_database() as url:
        yield url


@pytest.fixture(scope="session")
def sdk_script() -> Path:
    """The project's own AI SDK conformance script, ready to run (see tests/sdk.py)."""
    return sdk.install()


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    """The spans this test module's code ends, in memory (see tests/helpers/spans.py)."""
    return memory_exporter()


@pytest.fixture
def marker() -> str:
    """A unique word to put in a message, so the upstream's scripts and records stay this test's own."""
    return f"m{uuid.uuid4().hex[:10]}"


# The real local model's files first. (xdist's own reorder, by test count, still starts the files with the
# most tests first: the one-test quality bench runs last. Starting it first, or every multi-process file
# first, made CI slower in measured runs: they starve each other on two cores.) `make test` prints the
# slowest tests (--durations).
SLOW_FIRST = ("test_answer_quality.py", "test_fallback_kinds.py", "test_browser_local_model.py",
              "test_local_model.py", "test_local_tools.py", "test_local_tier.py")


def _rank(item: pytest.Item) -> int:
    name = Path(str(item.fspath)).name
    return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    root = Path(__file__).parent
    for item in items:
        if (root / "e2e") in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
    items.sort(key=_rank)  # stable: each file's tests stay together, in their order
