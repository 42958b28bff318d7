"""PARLOR_REDIS_URL's forms (parlor/redis_client.py): what each parses to, the one-line errors at start-up,
and a real redis-server over TLS reached with `rediss://...?ssl_ca_certs=` (a CA of this test's own)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError

from parlor.config import Settings
from parlor.redis_client import Options, Target, connect, parse
from tests.server import free_port


def test_one_server_is_not_parsed() -> None:
    assert parse("redis://127.0.0.1:6379/0") is None
    assert parse("rediss://user:pw@redis.example.com:6380/1?ssl_ca_certs=/ca.pem") is None


def test_a_cluster_lists_its_nodes() -> None:
    assert parse("rediss+cluster://app:s%40cret@10.0.0.1:7000,10.0.0.2:7001,redis-3?ssl_ca_certs=/ca.pem") == \
        Target("cluster", (("10.0.0.1", 7000), ("10.0.0.2", 7001), ("redis-3", 6379)), True, "app", "s@cret",
               ssl={"ssl_ca_certs": "/ca.pem"})


def test_a_sentinel_url_names_its_service_and_db() -> None:
    assert parse("redis+sentinel://:pw@s1:26379,s2:26380/mymaster/2") == \
        Target("sentinel", (("s1", 26379), ("s2", 26380)), False, None, "pw", "mymaster", 2)


def test_a_sentinel_url_carries_the_sentinels_own_credentials_apart_from_the_masters() -> None:
    target = parse("redis+sentinel://:master%20pw@s1:26379/mymaster?sentinel_password=s%26pw&sentinel_username=watch")
    assert target is not None and target.password == "master pw"
    assert target.sentinel_auth == {"password": "s&pw", "username": "watch"} and target.ssl == {}


@pytest.mark.parametrize(("url", "says"), [
    ("redis+sentinel://s1:26379", "service name"),
    ("redis+cluster://n1:7000?sentinel_password=pw", "unknown Redis URL option"),  # no Sentinels to give it to
    ("redis+cluster://", "no host"),
    ("redis+cluster://n1:7000?socket_timeout=3", "unknown Redis URL option"),
    ("http://127.0.0.1:6379", "not a Redis URL scheme"),
])
def test_a_bad_url_stops_start_up_with_one_line(url: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        Settings(redis_url=url)


async def test_a_cluster_url_makes_a_cluster_client() -> None:
    client = connect("redis+cluster://127.0.0.1:7000", Options())  # no I/O until the first command
    assert isinstance(client, RedisCluster)
    await client.aclose()


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate for 127.0.0.1 signed by it: (ca, certificate, key)."""
    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    cert, key, request = directory / "server.pem", directory / "server.key", directory / "server.csr"
    run = ["openssl"]
    subprocess.run([*run, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
                    "-days", "1", "-subj", "/CN=test-ca"], check=True, capture_output=True)
    subprocess.run([*run, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(request),
                    "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    extensions = directory / "san.cnf"
    extensions.write_text("subjectAltName=IP:127.0.0.1\n")
    subprocess.run([*run, "x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key),
                    "-CAcreateserial", "-out", str(cert), "-days", "1", "-extfile", str(extensions)],
                   check=True, capture_output=True)
    return ca, cert, key


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A redis-server that speaks TLS only, with a certificate of this test's own CA: (port, the CA)."""
    if shutil.which("redis-server") is None or shutil.which("openssl") is None:
        pytest.skip("needs redis-server and openssl")
    ca, cert, key = _certificates(tmp_path)
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
                               "--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca),
                               "--tls-auth-clients", "no", "--save", "", "--dir", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield port, ca
    finally:
        server.terminate()
        server.wait(10)


async def test_rediss_with_a_private_ca(tls_redis: tuple[int, Path]) -> None:
    port, ca = tls_redis
    trusted = connect(f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={ca}", Options(connect_timeout=5))
    untrusted = connect(f"rediss://127.0.0.1:{port}/0", Options(connect_timeout=5, retries=0))
    try:
        for _ in range(200):  # until the server listens
            try:
                assert await trusted.ping()
                break
            except RedisConnectionError:
                await asyncio.sleep(0.05)
        else:
            pytest.fail("the TLS server never answered")
        with pytest.raises(RedisConnectionError, match="certificate verify failed"):
            await untrusted.ping()  # the system's CAs do not know this one
    finally:
        await trusted.aclose()
        await untrusted.aclose()
