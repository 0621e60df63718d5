"""The live record of every prediction: what the model said on a symbol's last closed candle,
and, once the candles after it exist, what the trade it called for actually netted.

A prediction on the candle at index s resolves when the candle at s + rules.horizon is there,
never before, and its outcome is `trade_outcomes` on that symbol's candles: the same number a
training label or a backtest fill would give. The newest `window` resolved rows make the
rolling figures the dashboard shows (AUC with an interval, the rule's expectancy, calibration).
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tui_bot.engine.outcome import ExitRules, trade_outcomes
from tui_bot.engine.validation import MIN_BOTH, auc, auc_interval, block_length

__all__ = ["LiveFigures", "LiveRecord", "Resolved"]

DECILES = 10
_OPEN_MS = 0  # column of a candle's open time


@dataclass(frozen=True)
class Resolved:
    symbol: str
    signal_ms: int  # open time of the signal candle (the last closed one when predicted)
    predicted_at: float  # engine clock seconds
    probability: float
    features: tuple[float, ...]
    net_return: float  # the tradeable outcome, after fees (a fraction)
    traded: bool  # the bot opened a position on this prediction (mark_traded)


@dataclass(frozen=True)
class LiveFigures:
    rows: int  # resolved predictions in the window
    auc: float | None  # None below validation.MIN_BOTH of either class
    auc_low: float | None
    auc_high: float | None
    rule_rows: int  # resolved rows with probability >= threshold
    expectancy_pct: float | None  # their mean net return, %
    base_expectancy_pct: float | None  # every resolved row's mean, % (random entries)
    # by probability decile (0-0.1, ... 0.9-1): (mean predicted, realised win rate, rows)
    calibration: tuple[tuple[float, float, int], ...]


@dataclass
class _Pending:
    predicted_at: float
    probability: float
    features: tuple[float, ...]
    traded: bool = False


class LiveRecord:
    """Pending predictions waiting for their horizon, and a rolling window of resolved ones.
    Memory is bounded by `window` resolved plus `max_pending` pending rows."""

    def __init__(
        self,
        rules: ExitRules,
        threshold: float,
        window: int = 2000,
        max_pending: int = 20000,
        refresh_rows: int = 1,
    ) -> None:
        self._rules = rules
        # figures are recomputed once this many rows (at most) have resolved since (the
        # interval is a bootstrap: ~20 ms for 2,000 rows; the engine asks every cycle)
        self._refresh_rows = max(1, refresh_rows)
        self._new_rows = 0
        self._threshold = threshold
        self._max_pending = max_pending
        # keyed by (symbol, signal_ms); insertion order is age, so the first key is the oldest
        self._pending: dict[tuple[str, int], _Pending] = {}
        # per symbol, its pending signal times in the order recorded (time order: a cycle
        # predicts on the newest closed candle), so resolve looks only at the oldest ones
        self._queues: dict[str, deque[int]] = {}
        self._window: deque[Resolved] = deque(maxlen=window)
        self._figures: LiveFigures | None = None
        self.dropped = 0  # pending rows pushed out by max_pending
        self.unresolvable = 0  # pending rows whose outcome can never be known (a gap)

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def rows(self) -> int:
        return len(self._window)

    def record(
        self,
        predicted_at: float,
        symbols: Sequence[str],
        signal_ms: Sequence[int],
        probabilities: Sequence[float] | np.ndarray,
        features: np.ndarray,
    ) -> None:
        """One cycle's predictions, one per symbol, each on that symbol's last closed candle."""
        features = np.asarray(features, dtype=np.float64)
        if not len(symbols) == len(signal_ms) == len(probabilities) == len(features):
            raise ValueError("symbols, signal_ms, probabilities and features differ in length")
        for symbol, ms, p, row in zip(
            symbols, signal_ms, probabilities, features.tolist(), strict=True
        ):
            key = (symbol, int(ms))
            # a cycle shorter than a candle predicts the same candle again: the first one counts
            if math.isnan(p) or key in self._pending:
                continue
            self._pending[key] = _Pending(float(predicted_at), float(p), tuple(row))
            self._queues.setdefault(symbol, deque()).append(key[1])
        self._drop_oldest()

    def _drop_oldest(self) -> None:
        excess = len(self._pending) - self._max_pending
        if excess <= 0:
            return
        for symbol, ms in list(itertools.islice(self._pending, excess)):
            del self._pending[(symbol, ms)]
            queue = self._queues[symbol]
            if queue and queue[0] == ms:
                queue.popleft()
        self.dropped += excess

    def mark_traded(self, symbol: str, signal_ms: int) -> None:
        """The bot opened a position on this (still pending) prediction."""
        entry = self._pending.get((symbol, int(signal_ms)))
        if entry is not None:
            entry.traded = True

    def resolve(self, candles: Mapping[str, np.ndarray]) -> list[Resolved]:
        """Resolve every pending prediction whose horizon has passed in `candles` (symbol ->
        (T, 6) closed candles); returns the new rows, oldest signal first. One vectorised
        trade_outcomes call for all symbols: their due slices of candles, end to end (no
        outcome reads across a joint: each slice holds its signals' whole horizons)."""
        slices, signals, keys = [], [], []
        offset = 0
        for symbol, queue in self._queues.items():
            data = candles.get(symbol)
            if data is None or not queue:
                continue
            due = self._due(symbol, np.asarray(data), queue)
            if due is None:
                continue
            data, index, ms = due
            slices.append(data)
            signals.append(index + offset)
            keys += [(symbol, m) for m in ms.tolist()]
            offset += len(data)
        if not keys:
            return []
        outcomes = trade_outcomes(np.concatenate(slices), self._rules, np.concatenate(signals))
        resolved = self._take(keys, outcomes.known.tolist(), outcomes.net_return.tolist())
        resolved.sort(key=lambda r: (r.signal_ms, r.symbol))
        self._window.extend(resolved)
        self._new_rows += len(resolved)
        return resolved

    def _due(
        self, symbol: str, data: np.ndarray, queue: deque[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(the candles the due outcomes read, their signal indexes in it, their signal times);
        None when none is due. A prediction is due once the candle `horizon` candles after the
        last one whose open is at or before its signal time is there; one whose signal candle
        the data lacks by then (a gap, or older than the data) is forgotten."""
        last_signal = len(data) - 1 - self._rules.horizon  # the newest index a horizon covers
        if last_signal < 0:
            return None
        cut_ms = data[last_signal, _OPEN_MS]
        taken = []
        while queue and queue[0] <= cut_ms:
            ms = queue.popleft()
            if (symbol, ms) in self._pending:  # not dropped already
                taken.append(ms)
        if not taken:
            return None
        index, kept = [], []
        for ms in taken:
            at = _index_of(data, last_signal, ms, self._rules.timeframe_seconds * 1000)
            if at is None:
                self._forget(symbol, ms)
            else:
                index.append(at)
                kept.append(ms)
        if not index:
            return None
        first, last = min(index), max(index) + self._rules.horizon + 1
        signals = np.asarray(index, dtype=np.int64) - first
        return data[first:last], signals, np.asarray(kept, dtype=np.int64)

    def _take(
        self, keys: list[tuple[str, int]], known: list[bool], net: list[float]
    ) -> list[Resolved]:
        rows = []
        for key, is_known, value in zip(keys, known, net, strict=True):
            entry = self._pending.pop(key)
            if not is_known:  # a gap inside the horizon: no trade could be followed through it
                self.unresolvable += 1
                continue
            rows.append(
                Resolved(
                    key[0],
                    key[1],
                    entry.predicted_at,
                    entry.probability,
                    entry.features,
                    float(value),
                    entry.traded,
                )
            )
        return rows

    def _forget(self, symbol: str, signal_ms: int) -> None:
        del self._pending[(symbol, signal_ms)]
        self.unresolvable += 1

    def set_rules(self, rules: ExitRules, threshold: float) -> None:
        """Settings changed live. Pending predictions resolve under the new rules; resolved rows
        netted under other exits are a different quantity, so new exit rules empty the window."""
        if rules != self._rules:
            self._window.clear()
        self._rules = rules
        self._threshold = threshold
        self._figures = None

    def figures(self) -> LiveFigures:
        """The window's figures, recomputed only when `refresh_rows` rows resolved or settings
        changed since the last call (the interval costs a bootstrap)."""
        # a quarter of the window's rows at most: small windows stay current, and the
        # bootstrap's cost (proportional to the rows) stays the same per resolved row
        due = min(self._refresh_rows, max(1, len(self._window) // 4))
        if self._figures is None or self._new_rows >= due:
            self._figures = self._compute_figures()
            self._new_rows = 0
        return self._figures

    def _compute_figures(self) -> LiveFigures:
        # time order for the block bootstrap: rows resolved late can carry older signals
        rows = sorted(self._window, key=lambda r: r.signal_ms)
        p = np.array([r.probability for r in rows], dtype=np.float64)
        net = np.array([r.net_return for r in rows], dtype=np.float64)
        times = np.array([r.signal_ms for r in rows], dtype=np.int64)
        win = net > 0
        taken = p >= self._threshold
        enough = min(int(win.sum()), int((~win).sum())) >= MIN_BOTH
        low, high = auc_interval(win, p, block_length(times, self._rules.horizon))
        return LiveFigures(
            rows=len(rows),
            auc=auc(win, p) if enough else None,
            auc_low=_finite(low) if enough else None,
            auc_high=_finite(high) if enough else None,
            rule_rows=int(taken.sum()),
            expectancy_pct=_mean_pct(net[taken]),
            base_expectancy_pct=_mean_pct(net),
            calibration=_calibration(p, win),
        )


def _index_of(data: np.ndarray, last: int, ms: int, tf_ms: int) -> int | None:
    """The index of the candle opening at `ms` among data[: last + 1], None if there is none.
    Where no candle is missing it is a subtraction away; else a binary search."""
    at = last - int((data[last, _OPEN_MS] - ms) // tf_ms)
    if 0 <= at <= last and data[at, _OPEN_MS] == ms:
        return at
    at = int(np.searchsorted(data[: last + 1, _OPEN_MS], ms))
    return at if at <= last and data[at, _OPEN_MS] == ms else None


def _calibration(p: np.ndarray, win: np.ndarray) -> tuple[tuple[float, float, int], ...]:
    """(mean predicted, realised win rate, rows) per probability decile; empty ones left out."""
    decile = np.clip(np.floor(p * DECILES), 0, DECILES - 1).astype(np.int64)
    result = []
    for d in range(DECILES):
        here = decile == d
        if here.any():
            result.append((float(p[here].mean()), float(win[here].mean()), int(here.sum())))
    return tuple(result)


def _mean_pct(net: np.ndarray) -> float | None:
    return float(net.mean() * 100) if len(net) else None


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
