"""Uploads in an S3-compatible object store (AWS S3, MinIO, Cloudflare R2, Ceph, ...).

aiobotocore: botocore's own request signing, retry modes and credential chain (env, shared config,
instance roles), async on aiohttp. Chosen over boto3 in a thread pool (blocks a thread per call) and
over smaller clients (minio: sync; obstore: young) because it is what the AWS SDK itself does, kept
in step with it. Credentials: PARLOR_S3_ACCESS_KEY_ID / PARLOR_S3_SECRET_ACCESS_KEY (or its _FILE
secret), else botocore's default chain."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
from aiobotocore.session import get_session  # type: ignore[import-untyped]

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client


class S3Files:
    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None, region: str | None = None,
                 access_key_id: str | None = None, secret_access_key: str | None = None):
        self.bucket = bucket
        self.prefix = prefix
        self._endpoint = endpoint_url
        self._region = region
        self._credentials = (access_key_id, secret_access_key)
        self._stack = AsyncExitStack()
        self._client: S3Client | None = None

    async def start(self) -> None:
        """Opens the client (one connection pool for the process) and checks the bucket is reachable."""
        config = AioConfig(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=30,
                           # a custom endpoint (MinIO, a test server) rarely has per-bucket DNS names
                           s3={"addressing_style": "path" if self._endpoint else "auto"})
        access_key, secret_key = self._credentials
        client = get_session().create_client("s3", endpoint_url=self._endpoint, region_name=self._region,
                                             aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                                             config=config)
        self._client = await self._stack.enter_async_context(client)
        try:
            await self.client.head_bucket(Bucket=self.bucket)
        except BaseException:
            await self.aclose()
            raise

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    @property
    def client(self) -> S3Client:
        if self._client is None:
            raise RuntimeError("S3Files.start() was not called")
        return self._client

    async def put(self, key: str, data: bytes) -> None:
        await self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    async def get(self, key: str) -> bytes:
        try:
            response = await self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(key) from None
        async with response["Body"] as body:
            data: bytes = await body.read()
            return data

    async def delete(self, key: str) -> None:
        await self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    async def keys(self, prefix: str) -> list[str]:
        found: list[str] = []
        async for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                                 Prefix=self._key(prefix)):
            found += [item["Key"].removeprefix(self.prefix) for item in page.get("Contents", [])]
        return found

    async def exists(self, key: str) -> bool:
        try:
            await self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    async def aclose(self) -> None:
        self._client = None
        await self._stack.aclose()
