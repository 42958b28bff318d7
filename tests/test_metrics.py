"""`GET /metrics` through a real server: bearer-protected, parsed with the Prometheus client's own
parser, and moving after a streamed turn (TTFT and tokens/s histograms, tokens, cost, requests)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.client import auth, chat
from tests.conftest import upstream_provider
from tests.server import ParlorServer
from tests.upstream import Script, Upstream

TOKEN = "metrics-token-" + uuid.uuid4().hex[:8]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def metered(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParlorServer]:
    tiers = {"unlimited": {}, "tiny": {"requests_per_minute": 1}}
    process = ParlorServer(tmp_path_factory.mktemp("metrics"), [upstream_provider(upstream)],
                           PARLOR_METRICS_TOKEN=TOKEN, PARLOR_TIERS=json.dumps(tiers),
                           PARLOR_PRICES=json.dumps({"test-model": {"input": 1.0, "output": 2.0}})).start(120)
    try:
        yield process
    finally:
        process.stop()


def scrape(server: ParlorServer) -> Samples:
    response = httpx.get(f"{server.url}/metrics", headers=auth(TOKEN))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples named `name` whose labels include `labels` (0 when there are none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def test_metrics_need_the_token(metered: ParlorServer) -> None:
    assert httpx.get(f"{metered.url}/metrics").status_code == 401
    assert httpx.get(f"{metered.url}/metrics", headers=auth("not-" + TOKEN)).status_code == 401
    assert TOKEN not in metered.log.read_text()


def test_histograms_and_counters_move_after_a_streamed_turn(metered: ParlorServer, upstream: Upstream,
                                                            marker: str) -> None:
    key = metered.create_user(f"metrics-{marker}")
    upstream.push(Script(tokens=["one", " two", " three", " four", " five"], token_delay=0.01), match=marker)
    before = scrape(metered)
    result = chat(metered.url, key, uuid.uuid4().hex, f"count {marker}")
    assert result.text == "one two three four five"
    after = scrape(metered)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    llm = {"provider": "up", "model": "test-model"}
    assert moved("parlor_llm_time_to_first_token_seconds_count", **llm) == 1
    assert moved("parlor_llm_time_to_first_token_seconds_bucket", le="+Inf", **llm) == 1
    assert moved("parlor_llm_tokens_per_second_count", **llm) == 1
    assert moved("parlor_llm_tokens_total", direction="output", **llm) > 0
    assert moved("parlor_llm_tokens_total", direction="input", **llm) > 0
    assert moved("parlor_llm_cost_usd_total", **llm) > 0
    assert moved("parlor_llm_calls_total", outcome="ok", **llm) == 1
    assert moved("parlor_turns_total", status="complete") == 1
    chat_route = {"route": "/api/chat", "method": "POST", "status": "200"}
    assert moved("parlor_http_requests_total", **chat_route) == 1
    assert moved("parlor_http_request_duration_seconds_count", **chat_route) == 1
    assert value(after, "parlor_active_streams") == 0
    assert value(after, "parlor_circuit_breaker_state", provider="up") == 0
    assert value(after, "parlor_db_pool_size") > 0
    assert ("parlor_db_pool_connections", frozenset({("state", "checked_out")})) in after


def test_rate_limit_rejections_are_counted_by_reason(metered: ParlorServer, marker: str) -> None:
    key = metered.create_user(f"tiny-{marker}", tier="tiny")
    before = value(scrape(metered), "parlor_rate_limit_rejections_total", reason="rate_limited")
    statuses = [chat(metered.url, key, uuid.uuid4().hex, f"hi {marker}").status for _ in range(2)]
    assert statuses == [200, 429]
    after = value(scrape(metered), "parlor_rate_limit_rejections_total", reason="rate_limited")
    assert after - before == 1


def test_metrics_are_open_without_a_token(server: object) -> None:
    """With no PARLOR_METRICS_TOKEN (the shared server), /metrics is open, as Prometheus expects."""
    url = server.url  # type: ignore[attr-defined]
    response = httpx.get(f"{url}/metrics")
    assert response.status_code == 200
    assert list(text_string_to_metric_families(response.text))
