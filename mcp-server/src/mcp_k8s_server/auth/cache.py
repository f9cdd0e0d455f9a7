"""A small bounded cache of token verdicts, keyed by a hash of the token.

Why our own: the rules are ours (an entry never outlives the token's own ``exp``; refusals are
kept shorter than acceptances; the key is a SHA-256 of the token, so the cache never holds a
token), and it is a dict with an expiry per entry: cachetools' TTLCache has one TTL for all.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


def fingerprint(token: str) -> str:
    """``sha256:<hex>`` of the token: what we may keep and log instead of it."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class VerdictCache(Generic[V]):
    """LRU of at most ``max_entries``; each entry expires at its own time (unix seconds)."""

    def __init__(self, max_entries: int = 4096, clock: Callable[[], float] = time.time):
        self.max_entries = max_entries
        self.clock = clock
        self._data: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        with self._lock:
            hit = self._data.get(key)
            if hit is None:
                return None
            if hit[0] <= self.clock():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return hit[1]

    def put(self, key: str, value: V, expires_at: float) -> None:
        if self.max_entries <= 0 or expires_at <= self.clock():
            return
        with self._lock:
            self._data[key] = (expires_at, value)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)
