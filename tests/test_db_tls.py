"""TLS to PostgreSQL on a cluster of this test's own (ssl=on, a certificate for 127.0.0.1 signed by a CA
the fixture makes with openssl): the engine, `parlor migrate` and the vector store's pool take libpq's
spelling (sslmode, sslrootcert) or asyncpg's (ssl=) on the same URL; a certificate not signed by the CA
named is refused, in one line."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from parlor.db import create_engine, pending_migrations
from parlor.rag.pg_store import PgVectorStore
from parlor.rag.store import VectorStoreUnavailable
from tests.cli import parlor
from tests.pgcluster import PgCluster

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

IN_TLS = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


@dataclass
class TlsCluster:
    base: str  # the cluster's URL, no parameters
    ca: Path  # the CA that signed the server's certificate
    wrong_ca: Path  # a CA that did not

    def url(self, query: str) -> str:
        return f"{self.base}?{query.format(ca=self.ca, wrong=self.wrong_ca)}"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def _authority(directory: Path, name: str) -> Path:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
             "-keyout", str(directory / f"{name}.key"), "-out", str(directory / f"{name}.crt"))
    return directory / f"{name}.crt"


def _server_certificate(directory: Path, ca: Path) -> None:
    """server.crt and server.key, for the IP address 127.0.0.1, signed by `ca`."""
    (directory / "san.ext").write_text("subjectAltName = IP:127.0.0.1\n")
    key, request, certificate = (str(directory / name) for name in ("server.key", "server.csr", "server.crt"))
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", request)
    _openssl("x509", "-req", "-in", request, "-CA", str(ca), "-CAkey", str(ca.with_suffix(".key")), "-CAcreateserial",
             "-days", "2", "-extfile", str(directory / "san.ext"), "-out", certificate)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsCluster]:
    client = tmp_path_factory.mktemp("tls")
    ca, wrong_ca = _authority(client, "ca"), _authority(client, "other-ca")
    cluster = PgCluster()
    server = cluster.dir / "tls"  # where `postgres` may read (the test's own directories are root's)
    server.mkdir()
    _server_certificate(server, ca)
    for path in (server, server / "server.crt", server / "server.key"):
        shutil.chown(path, "postgres", "postgres")
    (server / "server.key").chmod(0o600)
    cluster.options = f"-c ssl=on -c ssl_cert_file={server}/server.crt -c ssl_key_file={server}/server.key"
    with cluster:
        yield TlsCluster(cluster.url, ca, wrong_ca)


@pytest.mark.parametrize(("query", "encrypted"), [
    ("sslmode=require", True), ("ssl=require", True), ("ssl=true", True), ("sslmode=disable", False),
    ("sslmode=verify-ca&sslrootcert={ca}", True), ("sslmode=verify-full&sslrootcert={ca}", True),
])
async def test_the_engine_takes_either_spelling(tls: TlsCluster, query: str, encrypted: bool) -> None:
    engine = create_engine(tls.url(query), pool_size=1)
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text(IN_TLS))).scalar_one() is encrypted
    finally:
        await engine.dispose()


async def test_parlor_migrate_over_verified_tls(tls: TlsCluster) -> None:
    url = tls.url("sslmode=verify-full&sslrootcert={ca}")
    migrated = parlor("migrate", env={"PARLOR_DATABASE_URL": url}, timeout=300)
    assert migrated.returncode == 0, migrated.stderr
    assert await pending_migrations(tls.url("sslmode=require")) == []


async def test_the_vector_stores_pool_connects_with_the_same_translation(tls: TlsCluster) -> None:
    store = PgVectorStore(tls.url("sslmode=verify-full&sslrootcert={ca}"), dimensions=8, pool_size=1)
    try:
        try:
            await store.setup()
        except VectorStoreUnavailable as exc:  # this cluster is the system's PostgreSQL, often without pgvector
            assert "pgvector" in str(exc)
        async with store._pool.acquire() as connection:
            assert await connection.fetchval(IN_TLS) is True
    finally:
        await store.aclose()


async def test_a_certificate_the_ca_did_not_sign_is_refused_in_one_line(tls: TlsCluster) -> None:
    url = tls.url("sslmode=verify-full&sslrootcert={wrong}")
    refused = parlor("migrate", env={"PARLOR_DATABASE_URL": url}, timeout=300)
    assert refused.returncode != 0
    assert "certificate verify failed" in refused.stderr and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    engine = create_engine(url, pool_size=1)
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            async with engine.connect():
                pass
    finally:
        await engine.dispose()
