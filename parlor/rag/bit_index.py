"""The embedded store's coarse vector scan, in memory: each user's binary-quantised vectors (as
sqlite-vec stored them) held column by column, scanned with numpy's popcount.

Why not sqlite-vec's own KNN: it keeps its k best in a way that costs O(rows * k), so with the 100
candidates the exact re-ranking needs, 100,000 vectors took ~14 ms; this scan takes ~2-4 ms. Fewer
candidates were no way out: 40 lost a quarter of recall@10 on the benchmark's vectors.

A user's entry is valid for one `version` of their vectors (bumped by every write, in the same
transaction, by whichever process writes: a worker's new document is seen by the server's next search).
Entries are dropped oldest first beyond `max_rows` in all."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

FAR = np.uint16(65535)  # the distance of a vector outside the searched threads


@dataclass(frozen=True, slots=True)
class UserBits:
    version: int
    ids: np.ndarray  # chunk ids (int64)
    threads: np.ndarray  # each vector's thread, as a code into `codes` (int32)
    codes: dict[str, int]
    columns: np.ndarray  # (words, n) uint64: one row per 64 bits of every vector

    @classmethod
    def build(cls, version: int, rows: Iterable[tuple[int, str, bytes]]) -> UserBits:
        ids: list[int] = []
        threads: list[int] = []
        blobs: list[bytes] = []
        codes: dict[str, int] = {}
        for chunk_id, thread, blob in rows:
            ids.append(chunk_id)
            threads.append(codes.setdefault(thread, len(codes)))
            blobs.append(padded(blob))
        words = len(blobs[0]) // 8 if blobs else 0
        packed = np.frombuffer(b"".join(blobs), np.uint64).reshape(len(blobs), words)
        return cls(version, np.asarray(ids, np.int64), np.asarray(threads, np.int32), codes,
                   np.ascontiguousarray(packed.T))

    def nearest(self, query: bytes, threads: Iterable[str], k: int) -> list[int]:
        """Ids of the (up to) k vectors nearest to `query` by Hamming distance, among `threads`' only."""
        wanted = [self.codes[t] for t in set(threads) if t in self.codes]
        if not wanted or not len(self.ids):
            return []
        bits = np.frombuffer(padded(query), np.uint64)
        distance = np.bitwise_count(self.columns[0] ^ bits[0]).astype(np.uint16)
        for row, word in zip(self.columns[1:], bits[1:], strict=True):
            distance += np.bitwise_count(row ^ word)
        inside = np.isin(self.threads, wanted) if len(wanted) > 1 else self.threads == wanted[0]
        distance[~inside] = FAR
        allowed = int(inside.sum())
        k = min(k, allowed)
        if k == 0:
            return []
        best = np.argpartition(distance, k - 1)[:k] if k < len(distance) else np.arange(len(distance))
        best = best[distance[best] < FAR]
        return [int(i) for i in self.ids[best]]


class BitCache:
    def __init__(self, max_rows: int = 2_000_000):
        self._entries: OrderedDict[str, UserBits] = OrderedDict()
        self._lock = threading.Lock()
        self._max_rows = max_rows

    def get(self, user_id: str, version: int, load: Callable[[], UserBits]) -> UserBits:
        with self._lock:
            entry = self._entries.get(user_id)
            if entry is not None and entry.version == version:
                self._entries.move_to_end(user_id)
                return entry
        entry = load()  # outside the lock: another user's search goes on meanwhile
        with self._lock:
            self._entries[user_id] = entry
            self._entries.move_to_end(user_id)
            while len(self._entries) > 1 and sum(len(e.ids) for e in self._entries.values()) > self._max_rows:
                self._entries.popitem(last=False)
        return entry


def padded(blob: bytes) -> bytes:
    """Whole 64-bit words (zero bits add nothing to a Hamming distance)."""
    return blob + b"\0" * (-len(blob) % 8)
