from tui_bot.clock import FakeClock
from tui_bot.engine.caches import BoundedCache, PermanentCache, TimedCache


def test_timed_cache_counts_hits_and_expires_on_the_engine_clock() -> None:
    clock = FakeClock(0.0)
    cache = TimedCache(maxsize=10, ttl=300, timer=clock.now)
    assert cache.lookup("k") is None
    cache.put("k", 1.5)
    assert cache.lookup("k") == 1.5
    clock.advance(299)
    assert cache.lookup("k") == 1.5
    clock.advance(2)
    assert cache.lookup("k") is None
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.size, stats.maxsize, stats.ttl) == (2, 2, 0, 10, 300)
    assert stats.hit_rate == 0.5


def test_timed_cache_evicts_beyond_maxsize() -> None:
    clock = FakeClock(0.0)
    cache = TimedCache(maxsize=3, ttl=60, timer=clock.now)
    for i in range(5):
        cache.put(i, i)
    assert len(cache) == 3


def test_lookup_many_reports_misses_in_order() -> None:
    cache = TimedCache(maxsize=10, ttl=60, timer=FakeClock(0.0).now)
    cache.put("a", 1)
    cache.put("c", 3)
    values, missing = cache.lookup_many(["a", "b", "c", "d"])
    assert values == [1, None, 3, None]
    assert missing == [1, 3]
    assert (cache.hits, cache.misses) == (2, 2)


def test_reconfigure_changes_ttl_and_keeps_counters() -> None:
    cache = TimedCache(maxsize=10, ttl=300, timer=FakeClock(0.0).now)
    cache.put("a", 1)
    cache.lookup("a")
    cache.reconfigure(20, 240)
    assert cache.stats().ttl == 240
    assert cache.stats().maxsize == 20
    assert cache.hits == 1


def test_bounded_and_permanent_caches() -> None:
    lru = BoundedCache(2)
    lru.put(1, "x")
    lru.put(2, "y")
    lru.put(3, "z")
    assert lru.lookup(1) is None
    assert lru.stats().size == 2
    calls = []
    perm = PermanentCache()
    for _ in range(3):
        perm.get_or_compute("BTC/USDT", lambda k: calls.append(k) or "layer-1")
    assert calls == ["BTC/USDT"]
    assert (perm.hits, perm.misses) == (2, 1)
