"""Uploads in S3-compatible object storage, against a real S3 API server on loopback (moto's server,
started here): the store's contract, the pipeline reading its input from the bucket, delete removing
the object, and a distributed server and worker that share the bucket and no directory."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from parlor.attachments import AttachmentStore, Upload
from parlor.rag.files import LocalFiles
from parlor.rag.s3_files import S3Files
from tests import rag_corpus
from tests.client import auth, chat, post_chat
from tests.conftest import upstream_provider
from tests.helpers.documents import events
from tests.helpers.images import file_part, image_bytes
from tests.helpers.redis import redis_url
from tests.rag_kit import knowledge, wait_final
from tests.server import ParlorServer, free_port
from tests.upstream import Upstream

REGION = "us-east-1"


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """The endpoint URL of an S3 API server on loopback."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def bucket(endpoint: str) -> tuple[str, Any]:
    """A new bucket, and a plain boto3 client to look inside it."""
    client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="test",
                          aws_secret_access_key="test-secret")
    name = f"parlor-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return name, client


def keys(client: Any, name: str) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=name).get("Contents", [])]


def files_in(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_the_object_store_keeps_puts_reads_and_deletes(s3: str) -> None:
    name, client = bucket(s3)
    files = S3Files(name, "docs/", s3, REGION, "test", "test-secret")
    await files.start()
    try:
        await files.put("user-1/abc", b"%PDF- some bytes")
        assert keys(client, name) == ["docs/user-1/abc"]
        assert await files.get("user-1/abc") == b"%PDF- some bytes" and await files.exists("user-1/abc")
        await files.delete("user-1/abc")
        assert keys(client, name) == [] and not await files.exists("user-1/abc")
        with pytest.raises(FileNotFoundError):
            await files.get("user-1/abc")
        await files.delete("user-1/abc")  # already gone: nothing happens
    finally:
        await files.aclose()
    missing = S3Files(f"{name}-missing", "", s3, REGION, "test", "test-secret")
    with pytest.raises(Exception, match=r"404|Not Found|NoSuchBucket"):
        await missing.start()  # a wrong bucket fails the start, not the first upload


async def test_the_job_reads_the_upload_from_the_bucket_and_delete_removes_it(s3: str, tmp_path: Path) -> None:
    name, client = bucket(s3)
    settings = {"s3_bucket": name, "s3_endpoint_url": s3, "s3_region": REGION, "s3_access_key_id": "test",
                "s3_secret_access_key": "test-secret"}
    async with knowledge(tmp_path, **settings) as (kb, (alice, _)):
        data = rag_corpus.pdf(4, seed=17)
        document, created = await kb.documents.upload(alice, "report.pdf", data)
        assert created and keys(client, name) == [f"documents/{alice}/{document.sha256}"]
        assert await wait_final(kb, document.id) == "ready"
        done = await kb.repo.get(document.id)
        assert done is not None and done.pages == 4 and done.chunks and await kb.store.count(document.id) == done.chunks
        found = await kb.documents.file(alice, document.id)
        assert found is not None and found[1] == data
        assert files_in(tmp_path / "documents") == []  # nothing on local disk
        assert await kb.documents.delete(alice, document.id)
        assert keys(client, name) == [] and await kb.store.count(document.id) == 0


def test_a_distributed_server_and_worker_share_the_bucket_and_no_directory(s3: str, upstream: Upstream,
                                                                            tmp_path: Path) -> None:
    name, client = bucket(s3)
    secret = tmp_path / "s3-secret"
    secret.write_text("test-secret\n")
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    server = ParlorServer(tmp_path / "server", [upstream_provider(upstream)], PARLOR_REDIS_URL=redis_url(),
                          PARLOR_LIMITS_KEY_PREFIX=prefix, PARLOR_JOBS_QUEUE=f"{prefix}jobs",
                          PARLOR_S3_BUCKET=name, PARLOR_S3_ENDPOINT_URL=s3, PARLOR_S3_REGION=REGION,
                          PARLOR_S3_ACCESS_KEY_ID="test", PARLOR_S3_SECRET_ACCESS_KEY_FILE=str(secret),
                          PARLOR_DOCUMENTS_DIR=str(tmp_path / "server-documents")).start(timeout=120)
    worker_dir = tmp_path / "worker"
    worker_dir.mkdir()
    env = {**server.env, "PARLOR_DOCUMENTS_DIR": str(worker_dir / "documents")}  # not the server's
    with (worker_dir / "worker.log").open("ab") as log:
        worker = subprocess.Popen([sys.executable, "-m", "parlor", "worker"], env=env, cwd=worker_dir, stdout=log,
                                  stderr=subprocess.STDOUT)
    try:
        key = server.create_user(f"s3-{uuid.uuid4().hex[:6]}")
        response = httpx.post(f"{server.url}/api/documents", headers=auth(key), timeout=30,
                              files={"file": ("guide.md", rag_corpus.markdown(3, seed=23))})
        assert response.status_code == 202, response.text
        document = response.json()
        final = events(server, key, document["id"])[-1]
        assert final["status"] == "ready", (final, (worker_dir / "worker.log").read_text()[-2000:])
        [stored] = keys(client, name)
        assert stored.startswith("documents/") and stored.endswith(f"/{document['sha256']}")
        assert files_in(tmp_path / "server-documents") == files_in(worker_dir / "documents") == []
        assert httpx.delete(f"{server.url}/api/documents/{document['id']}", headers=auth(key)).status_code == 204
        assert keys(client, name) == []
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        server.stop()
        import redis

        with redis.Redis.from_url(redis_url()) as r:
            r.delete(f"{prefix}jobs")



async def test_attachments_by_owner_in_the_bucket_and_in_a_directory(s3: str, tmp_path: Path) -> None:
    """The attachment store on both file stores: saved under the owner, read back only by them, listed for the
    export, and gone with the thread or the account."""
    name, client = bucket(s3)
    remote = S3Files(name, "docs/", s3, REGION, "test", "test-secret")
    await remote.start()
    try:
        for files in (remote, LocalFiles(tmp_path / "documents")):
            store = AttachmentStore(files)
            png = Upload("image/png", b"\x89PNG fake", "a.png", 4, 3)
            (kept,) = await store.save("alice", "t1", [png])
            (dropped,) = await store.save("alice", "t2", [png])
            await store.save("bob", "t1", [png])
            thread, file_name = kept.url.removeprefix("/api/files/").split("/")
            assert (kept.width, kept.height, kept.filename) == (4, 3, "a.png") and thread == "t1"
            assert await store.read("alice", thread, file_name) == (b"\x89PNG fake", "image/png")
            with pytest.raises(FileNotFoundError):
                await store.read("bob", thread, file_name)  # bob's key is another: there is nothing there
            (climber,) = await store.save("mallory", "..", [png])  # a thread id that could climb out of its folder
            assert await store.read("mallory", "..", climber.url.rsplit("/", 1)[1]) == (png.data, "image/png")
            assert await store.delete_thread("mallory", "..") == 1  # its own file, no one else's
            assert len(await store.export("alice")) == 2 and len(await store.export("bob")) == 1
            assert sorted(f["url"] for f in await store.export("alice")) == sorted([kept.url, dropped.url])
            assert await store.delete_thread("alice", "t2") == 1
            assert [f["url"] for f in await store.export("alice")] == [kept.url]
            assert await store.delete_user("alice") == 1
            assert await store.export("alice") == [] and len(await store.export("bob")) == 1
        assert [k.rsplit("/", 1)[0] for k in keys(client, name)] == ["docs/attachments/bob/t1"]  # bob's only
    finally:
        await remote.aclose()


def test_a_store_that_fails_keeps_the_images_message_from_being_sent(s3: str, upstream: Upstream, tmp_path: Path,
                                                                    marker: str) -> None:
    """The bucket is gone: a message with an image is 503 attachments_unavailable (retry later), and no model
    was asked: an answer about an image Parlor could not keep would be lost with it."""
    seeing = {**upstream_provider(upstream), "vision": True}
    server = ParlorServer(tmp_path, [seeing], PARLOR_S3_BUCKET=f"gone-{uuid.uuid4().hex[:8]}",
                          PARLOR_S3_ENDPOINT_URL=s3, PARLOR_S3_REGION=REGION, PARLOR_S3_ACCESS_KEY_ID="test",
                          PARLOR_S3_SECRET_ACCESS_KEY="test").start(timeout=120)
    try:
        key = server.create_user(f"gone-{marker}")
        body = {"id": f"t-{marker}", "messages": [{"id": uuid.uuid4().hex, "role": "user", "parts": [
            {"type": "text", "text": f"see {marker}"}, file_part(image_bytes(), "image/png")]}]}
        result = post_chat(server.url, key, body)
        assert result.status == 503 and result.body["error"]["code"] == "attachments_unavailable"
        assert result.headers.get("retry-after")
        assert not [r for r in upstream.requests if marker in str(r["messages"])]
        assert chat(server.url, key, f"t2-{marker}", f"plain {marker}").done  # text alone still works
    finally:
        server.stop()
