"""Where uploaded files are kept, behind one small protocol: a local directory (written atomically;
embedded mode, or replicas sharing a volume) or an S3-compatible object store (parlor/rag/s3_files.py:
replicas and workers then share nothing on disk). Chosen by the composition root
(parlor/wiring/knowledge.py)."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class FileStore(Protocol):
    async def start(self) -> None:
        """Checks the store can be used (a wrong bucket or key fails the start, clearly)."""

    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes:
        """The file's bytes; FileNotFoundError when there is no such file."""

    async def delete(self, key: str) -> None:
        """Removes the file (nothing happens when it is already gone)."""

    async def keys(self, prefix: str) -> list[str]:
        """The keys that begin with `prefix` (a folder's: it ends with "/")."""

    async def aclose(self) -> None: ...


class LocalFiles:
    def __init__(self, root: Path, shared: bool = False):
        """`shared`: other processes (replicas, `parlor worker`) read these files too."""
        self.root = root
        self._shared = shared

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"bad storage key {key!r}")
        return path

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._put, self._path(key), data)

    @staticmethod
    def _put(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)

    async def keys(self, prefix: str) -> list[str]:
        folder = self._path(prefix.rstrip("/") + "/.")  # checked like any key: inside the root
        return await asyncio.to_thread(self._keys, folder)

    def _keys(self, folder: Path) -> list[str]:
        if not folder.is_dir():
            return []
        root = self.root.resolve()
        return sorted(path.relative_to(root).as_posix() for path in folder.rglob("*")
                      if path.is_file() and not path.name.startswith(".upload-"))

    async def start(self) -> None:
        if self._shared:  # said once the rest of the knowledge base has started (a failed start says why)
            log.warning("uploads are kept in %s: every server and `parlor worker` must share that directory "
                        "(set PARLOR_S3_BUCKET to keep them in object storage instead)", self.root)

    async def aclose(self) -> None:
        pass

