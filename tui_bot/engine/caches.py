"""Instrumented caches: every cache the engine uses counts its hits and misses."""

from __future__ import annotations

from collections.abc import Callable, Hashable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cachetools import LRUCache, TTLCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


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


class _Counted(Generic[K, V]):
    """Hit/miss counting shared by every cache kind."""

    _data: MutableMapping[K, V]

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        self._data = {}

    def lookup(self, key: K) -> V | None:
        """The cached value, or None on a miss. Cached values are never None."""
        try:
            value = self._data[key]
        except KeyError:
            self.misses += 1
            return None
        self.hits += 1
        return value

    def lookup_many(self, keys: Sequence[K]) -> tuple[list[V | None], list[int]]:
        """Values for `keys` (None where missing) and the indices of the misses."""
        data = self._data
        values: list[V | None] = []
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

    def __contains__(self, key: object) -> bool:
        """Whether `key` is cached now; counts neither a hit nor a miss."""
        return key in self._data

    def put(self, key: K, value: V) -> None:
        self._data[key] = value

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    def _stats(self, maxsize: int, ttl: float | None) -> CacheStats:
        total = self.hits + self.misses
        rate = self.hits / total if total else 0.0
        return CacheStats(self.hits, self.misses, rate, len(self._data), maxsize, ttl)


class TimedCache(_Counted[K, V]):
    """A TTL cache on the engine's clock (cachetools.TTLCache with `timer=clock.now`)."""

    _data: TTLCache[K, V]

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


class BoundedCache(_Counted[K, V]):
    """An LRU cache for values whose key already says when they go stale."""

    _data: LRUCache[K, V]

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self._data = LRUCache(maxsize=maxsize)

    def stats(self) -> CacheStats:
        return self._stats(int(self._data.maxsize), None)


class PermanentCache(_Counted[K, V]):
    """A plain dict that never forgets: for lookups whose answer never changes."""

    def get_or_compute(self, key: K, compute: Callable[[K], V]) -> V:
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
