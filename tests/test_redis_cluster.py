"""The fleet of tests/test_two_replicas.py (three `parlor serve` replicas and a `parlor worker`) on a Redis
Cluster of three masters (`redis+cluster://`): readiness, the mirror (a turn resumed on another replica, a
stop sent to another replica), exactly-once claims, the job stream and progress pub/sub, key changes
announced by the CLI, and request limits exact for users whose keys live on different masters. Then the
cluster is flushed: the replicas stay ready (the job stream's group is remade by whoever needs it) and
uploads still get ingested."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from parlor.redis_keys import RedisKeys, user_subject
from tests.client import auth, chat
from tests.helpers.redis_ha import OwnCluster
from tests.test_two_replicas import (  # the same scenarios, collected again here: on this module's fleet
    CAP,
    Fleet,
    fleet_on,
    ready_through,
    test_a_document_uploaded_through_a_is_found_through_b,  # noqa: F401
    test_a_key_revoked_through_the_cli_is_refused_by_both_replicas_at_once,  # noqa: F401
    test_a_stop_sent_to_b_stops_the_run_on_a,  # noqa: F401
    test_a_turn_started_on_a_resumes_on_b_with_the_full_text,  # noqa: F401
    test_a_v1_stream_started_on_a_is_resumed_on_b_by_its_idempotency_key,  # noqa: F401
    test_fifty_messages_at_once_on_one_thread_across_the_replicas_start_one_turn,  # noqa: F401
    test_one_message_posted_twenty_times_across_the_replicas_is_answered_once,  # noqa: F401
    test_request_limits_count_both_replicas,  # noqa: F401
)
from tests.upstream import Upstream

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
USERS = 10
TRIES = CAP + 5  # each user's requests, alternating between the replicas


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnCluster]:
    own = OwnCluster(tmp_path_factory.mktemp("cluster")).start()
    try:
        yield own
    finally:
        own.stop()


@pytest.fixture(scope="module")
def fleet(upstream: Upstream, cluster: OwnCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    with fleet_on(upstream, tmp_path_factory.mktemp("fleet"), cluster.url) as started:
        yield started


def test_limits_are_exact_for_users_on_every_master(fleet: Fleet, cluster: OwnCluster, marker: str) -> None:
    users = [fleet.a.new_user(f"slot-{i}-{marker}", "capped") for i in range(USERS)]
    with cluster.client() as client:
        nodes = {client.get_node_from_key(RedisKeys().rate_window(user_subject(user_id), 60)).name
                 for user_id, _ in users}
    assert len(nodes) >= 2, "the users' windows should live on more than one master"

    def tries(index: int) -> list[int]:
        _, key = users[index]
        return [chat(fleet.both[i % 2].url, key, uuid.uuid4().hex, f"slots {index} {i} {marker}").status
                for i in range(TRIES)]

    with ThreadPoolExecutor(USERS) as pool:
        statuses = list(pool.map(tries, range(USERS)))
    admitted = [s.count(200) for s in statuses]
    print(f"admitted per user (limit {CAP}, {TRIES} tries, {len(nodes)} masters): {admitted}")
    assert admitted == [CAP] * USERS, statuses
    assert all(s.count(429) == TRIES - CAP for s in statuses), statuses


def test_after_a_flush_the_replicas_stay_ready_and_uploads_are_ingested(fleet: Fleet, cluster: OwnCluster,
                                                                        marker: str) -> None:
    with cluster.client() as client:
        client.flushall(target_nodes=client.PRIMARIES)  # the job stream and its group are gone
    for server in fleet.both:
        assert httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200
    _, key = fleet.a.new_user(f"flushed-{marker}", "unlimited")
    uploaded = httpx.post(f"{fleet.a.url}/api/documents", headers=auth(key), timeout=30,
                          files={"file": ("after.md", f"# After\n\nWritten after the flush, {marker}.\n".encode())})
    assert uploaded.status_code == 202
    ready_through(fleet.b, key, uploaded.json()["id"], seconds=60)
