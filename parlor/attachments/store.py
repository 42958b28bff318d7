"""Attachments in the documents' file store (a directory or S3), under `attachments/<user>/<thread>/<name>`:
the owner is part of the key, so a file is only ever read for its owner (another user's key is simply
not there), and an account's or a thread's files go with one prefix. No table: the message's file part
holds the URL, and the sizes the token estimate needs."""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from parlor.attachments.intake import PDF, Upload
from parlor.db import new_id
from parlor.llm.types import LLMMessage, MessageFile
from parlor.messages import FilePart

if TYPE_CHECKING:  # parlor.rag imports the agent, which renders messages with this module
    from parlor.rag.files import FileStore

ROUTE = "/api/files/"  # GET /api/files/{thread}/{name}: the owner's file (parlor/api/files.py)
EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp", PDF: ".pdf"}
TYPES = {extension: media_type for media_type, extension in EXTENSIONS.items()}
log = logging.getLogger(__name__)
NAME = re.compile(r"^[a-z0-9]{8,64}\.(png|jpg|gif|webp|pdf)$")
SAFE = re.compile(r"^[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,127}$")  # a key segment as it is: never "." or ".."


class AttachmentsUnavailable(Exception):
    """The file store could not take a message's files (the message is then not sent)."""


class AttachmentStore:
    def __init__(self, files: FileStore):
        self._files = files

    def named(self, thread_id: str, uploads: Sequence[Upload]) -> tuple[FilePart, ...]:
        """The parts the uploads will be stored as (each a new name, its URL the owner's route); no I/O."""
        return tuple(FilePart(u.media_type, f"{ROUTE}{thread_id}/{new_id().lower().replace('-', '')}"
                              f"{EXTENSIONS[u.media_type]}", u.filename, u.width, u.height, u.pages)
                     for u in uploads)

    async def write(self, user_id: str, parts: Sequence[FilePart], uploads: Sequence[Upload]) -> None:
        """Stores each upload under the part `named` gave it; AttachmentsUnavailable when storage fails."""
        try:
            for part, upload in zip(parts, uploads, strict=True):
                thread_id, _, name = part.url.removeprefix(ROUTE).partition("/")
                await self._files.put(_key(user_id, thread_id, name), upload.data)
        except Exception as exc:
            raise AttachmentsUnavailable(str(exc)) from exc

    async def save(self, user_id: str, thread_id: str, uploads: Sequence[Upload]) -> tuple[FilePart, ...]:
        """Stores the uploads; their parts."""
        parts = self.named(thread_id, uploads)
        await self.write(user_id, parts, uploads)
        return parts

    async def read(self, user_id: str, thread_id: str, name: str) -> tuple[bytes, str]:
        """The file's bytes and type; FileNotFoundError when the user has no such file."""
        if not NAME.match(name):
            raise FileNotFoundError(name)
        data = await self._files.get(_key(user_id, thread_id, name))
        return data, TYPES[name[name.rindex("."):]]

    async def load(self, user_id: str, messages: list[LLMMessage]) -> list[LLMMessage]:
        """The messages with their files' bytes read from storage (a file gone is left out)."""
        async def loaded(message: LLMMessage) -> LLMMessage:
            if not message.files:
                return message
            files = await asyncio.gather(*(self._load(user_id, f) for f in message.files))
            return replace(message, files=tuple(f for f in files if f.data is not None))

        return list(await asyncio.gather(*(loaded(m) for m in messages)))

    async def _load(self, user_id: str, file: MessageFile) -> MessageFile:
        thread_id, _, name = file.key.partition("/")
        try:
            data, _ = await self.read(user_id, thread_id, name)
        except FileNotFoundError:
            return file
        return replace(file, data=data)

    async def export(self, user_id: str) -> list[dict[str, Any]]:
        """The user's files, base64-encoded, with the URL their messages name them by."""
        exported = []
        for key in await self._files.keys(_prefix(user_id)):
            segment, _, name = key.removeprefix(_prefix(user_id)).partition("/")
            thread_id = _unsegment(segment)
            data = await self._files.get(key)
            exported.append({"url": f"{ROUTE}{thread_id}/{name}", "thread_id": thread_id,
                             "media_type": TYPES.get(name[name.rfind("."):], "application/octet-stream"),
                             "base64": base64.b64encode(data).decode()})
        return exported

    async def delete_user(self, user_id: str) -> int:
        return await self._delete(_prefix(user_id))

    async def delete_thread(self, user_id: str, thread_id: str) -> int:
        return await self._delete(f"{_prefix(user_id)}{_segment(thread_id)}/")

    async def forget_thread(self, user_id: str, thread_id: str) -> None:
        """After a thread is deleted: its files, at best effort (with the storage down they stay, under the
        user, until the account goes; the thread's deletion is not undone for them)."""
        try:
            await self.delete_thread(user_id, thread_id)
        except Exception as exc:
            log.warning("could not delete the attachments of thread %s: %s", thread_id, exc)

    async def _delete(self, prefix: str) -> int:
        keys = await self._files.keys(prefix)
        for key in keys:
            await self._files.delete(key)
        return len(keys)


def file_of(part: FilePart) -> MessageFile | None:
    """A stored file part as the model message's file (not loaded yet); None for a URL not ours."""
    if not part.url.startswith(ROUTE):
        return None
    return MessageFile(part.media_type, part.filename, None, part.width or 0, part.height or 0, part.pages or 0,
                       key=part.url.removeprefix(ROUTE))


def _segment(id_: str) -> str:
    """An id as one segment of a key: as it is, or hex-encoded when it could climb out of its folder (a
    thread named ".." must not list every user's files); "~" never starts an id, so none collide."""
    return id_ if SAFE.match(id_) else "~" + id_.encode().hex()


def _unsegment(segment: str) -> str:
    return bytes.fromhex(segment[1:]).decode() if segment.startswith("~") else segment


def _prefix(user_id: str) -> str:
    return f"attachments/{_segment(user_id)}/"


def _key(user_id: str, thread_id: str, name: str) -> str:
    return f"{_prefix(user_id)}{_segment(thread_id)}/{name}"
