"""Stops an answer that has fallen into a loop.

Small models sometimes repeat one sentence until the context is full (the 0.5B model once wrote the same
German sentence 89 times, minutes of a user's time). `LoopGuard` counts the sentences of an answer as it
streams; once any sentence of a few words has come `LIMIT` times, the answer is stopped there. The
repeats already sent stay: the answer is still a bad one (the quality suite counts it), only shorter."""

from __future__ import annotations

import re
from collections import Counter

LIMIT = 4
MIN_WORDS = 4
_BOUNDARY = re.compile(r"(?<=[.!?])\s+|\n+")
_NOT_WORDS = re.compile(r"\W+")


class LoopGuard:
    def __init__(self) -> None:
        self._pending = ""
        self._seen: Counter[str] = Counter()

    def looping(self, piece: str) -> bool:
        """Adds streamed text; True once a sentence has been said LIMIT times."""
        *done, self._pending = _BOUNDARY.split(self._pending + piece)
        for sentence in done:
            words = _NOT_WORDS.sub(" ", sentence).strip().lower()
            if len(words.split()) >= MIN_WORDS:
                self._seen[words] += 1
                if self._seen[words] >= LIMIT:
                    return True
        return False
