"""Instrumented caches: every cache the engine uses counts its hits and misses."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache, TTLCache


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    hit_rate: float
    size: int
    maxsize: int
    ttl: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": self.hit_rate,
            "size": self.size,
            "maxsize": self.maxsize,
            "ttl": self.ttl,
        }


class _Counted:
    """Hit/miss counting shared by every cache kind."""

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        self._data: Any = {}

    def lookup(self, key: Hashable) -> Any | None:
        """The cached value, or None on a miss. Cached values are never None."""
        try:
            value = self._data[key]
        except KeyError:
            self.misses += 1
            return None
        self.hits += 1
        return value

    def lookup_many(self, keys: list[Hashable]) -> tuple[list[Any], list[int]]:
        """Values for `keys` (None where missing) and the indices of the misses."""
        data = self._data
        values: list[Any] = []
        missing: list[int] = []
        for i, key in enumerate(keys):
            try:
                values.append(data[key])
            except KeyError:
                values.append(None)
                missing.append(i)
        self.misses += len(missing)
        self.hits += len(keys) - len(missing)
        return values, missing

    def __contains__(self, key: Hashable) -> bool:
        """Whether `key` is cached now; counts neither a hit nor a miss."""
        return key in self._data

    def put(self, key: Hashable, value: Any) -> None:
        self._data[key] = value

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    def _stats(self, maxsize: int, ttl: float | None) -> CacheStats:
        total = self.hits + self.misses
        rate = self.hits / total if total else 0.0
        return CacheStats(self.hits, self.misses, rate, len(self._data), maxsize, ttl)


class TimedCache(_Counted):
    """A TTL cache on the engine's clock (cachetools.TTLCache with `timer=clock.now`)."""

    def __init__(self, maxsize: int, ttl: float, timer: Callable[[], float]) -> None:
        super().__init__()
        self._timer = timer
        self._data = TTLCache(maxsize=maxsize, ttl=ttl, timer=timer)

    @property
    def ttl(self) -> float:
        return float(self._data.ttl)

    @property
    def maxsize(self) -> int:
        return int(self._data.maxsize)

    def reconfigure(self, maxsize: int, ttl: float) -> None:
        """Apply new limits. Entries are dropped: they were stored under the old TTL."""
        if maxsize != self.maxsize or ttl != self.ttl:
            self._data = TTLCache(maxsize=maxsize, ttl=ttl, timer=self._timer)

    def stats(self) -> CacheStats:
        self._data.expire()
        return self._stats(self.maxsize, self.ttl)


class BoundedCache(_Counted):
    """An LRU cache for values whose key already says when they go stale."""

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self._data = LRUCache(maxsize=maxsize)

    def stats(self) -> CacheStats:
        return self._stats(int(self._data.maxsize), None)


class PermanentCache(_Counted):
    """A plain dict that never forgets: for lookups whose answer never changes."""

    def get_or_compute(self, key: Hashable, compute: Callable[[Hashable], Any]) -> Any:
        try:
            value = self._data[key]
        except KeyError:
            self.misses += 1
            value = self._data[key] = compute(key)
            return value
        self.hits += 1
        return value

    def stats(self) -> CacheStats:
        return self._stats(len(self._data), None)
