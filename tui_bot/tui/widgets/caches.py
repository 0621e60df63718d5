"""Caches pane: hits, misses, hit rate, size / max, TTL and a hit-rate sparkline per cache."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from tui_bot.engine.caches import CacheStats
from tui_bot.engine.snapshot import CACHE_NAMES, Snapshot
from tui_bot.tui import format as fmt
from tui_bot.tui.widgets.table import KeyedTable, Row, cell, num

HISTORY = 24
# what one hit of each cache means: the help screen shows it
HELP = (
    "Caches pane, what a hit is: market scan: a whole scan reused, no exchange call; "
    "indicators: a symbol whose newest candle is the one its indicators were computed on; "
    "ML prediction: a feature row (rounded indicators) already predicted within the TTL. "
    "The features change only when a new candle arrives, so the ML hit rate follows the "
    "indicators' one: both say how often the candles were unchanged, not how many different "
    "setups the model was spared. symbol group: a symbol's group found in the permanent cache."
)
LABELS = {
    "market_scan": "market scan",
    "indicators": "indicators",
    "ml_prediction": "ML prediction",
    "symbol_group": "symbol group",
}


class CachesTable(KeyedTable):
    TITLE = "Caches"
    COLUMNS = (
        ("cache", "Cache", "left"),
        ("hits", "Hits", "right"),
        ("misses", "Misses", "right"),
        ("rate", "Hit rate", "right"),
        ("size", "Size / max", "right"),
        ("ttl", "TTL", "right"),
        ("trend", "Hit rate by cycle", "left"),
    )

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._history: dict[str, deque[float | None]] = {}
        self._counts: dict[str, tuple[int, int]] = {}
        self._cycle: int | None = None

    def show(self, snapshot: Snapshot) -> None:
        self._record(snapshot)
        super().show(snapshot)

    def _record(self, snapshot: Snapshot) -> None:
        """One point a cycle: the hit rate of the lookups made since the previous cycle."""
        if snapshot.cycle == self._cycle:
            return
        first = self._cycle is None
        self._cycle = snapshot.cycle
        for name, stats in snapshot.caches.items():
            hits, misses = self._counts.get(name, (0, 0))
            self._counts[name] = (stats.hits, stats.misses)
            if first:
                continue
            new_hits, new_misses = stats.hits - hits, stats.misses - misses
            total = new_hits + new_misses
            points = self._history.setdefault(name, deque(maxlen=HISTORY))
            points.append(new_hits / total if total > 0 else None)

    def rows_for(self, snapshot: Snapshot) -> Mapping[str, Row]:
        names = [n for n in CACHE_NAMES if n in snapshot.caches]
        names += sorted(n for n in snapshot.caches if n not in CACHE_NAMES)
        return {name: self._row(name, snapshot.caches[name]) for name in names}

    def _row(self, name: str, s: CacheStats) -> Row:
        ttl = "none" if s.ttl is None else f"{s.ttl:g} s"
        trend = fmt.spark(self._history.get(name, ()), HISTORY)
        return (
            cell(LABELS.get(name, name)),
            num(f"{s.hits:,}"),
            num(f"{s.misses:,}"),
            num(f"{s.hit_rate:.0%}"),
            num(f"{s.size:,} / {s.maxsize:,}"),
            num(ttl),
            cell(trend, self.theme_colour("accent")),
        )

    def subtitle_for(self, snapshot: Snapshot) -> str:
        return "since start"
