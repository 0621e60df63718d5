"""Every probability a backtest's signal phase produced, held as one float32 table.

One row a cycle, one column a pair, NaN where the cycle made no prediction for the pair: memory
grows with cycles x pairs, like the candles themselves (100 pairs x 90 days of 5m: ~10 MB), never
with one Python object per prediction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Prediction", "PredictionLog"]


@dataclass(frozen=True, slots=True)
class Prediction:
    time_ms: int  # the cycle's data time: the prediction saw the candles closed by then
    symbol: str
    probability: float


class PredictionLog:
    """Rows appended in time order, up to `capacity` of them (the run's cycles)."""

    def __init__(self, symbols: Sequence[str], capacity: int) -> None:
        self.symbols = tuple(symbols)
        self._column = {s: i for i, s in enumerate(self.symbols)}
        self._times = np.zeros(capacity, dtype=np.int64)
        self._probabilities = np.full((capacity, len(self.symbols)), np.nan, dtype=np.float32)
        self._rows = 0

    @classmethod
    def of(cls, predictions: Iterable[Prediction]) -> PredictionLog:
        """A log holding `predictions` (any order; NaN ones count as none)."""
        given = list(predictions)
        times = sorted({p.time_ms for p in given})
        log = cls(sorted({p.symbol for p in given}), len(times))
        row = {t: i for i, t in enumerate(times)}
        log._times[:] = times
        log._rows = len(times)
        for p in given:
            log._probabilities[row[p.time_ms], log._column[p.symbol]] = p.probability
        return log

    def add(self, time_ms: int, symbols: Sequence[str], probabilities: Sequence[float]) -> None:
        """One cycle's predictions; symbols this log does not know are left out."""
        if self._rows == len(self._times):
            raise ValueError(f"the prediction log is full ({self._rows} cycles)")
        row = self._rows
        self._times[row] = time_ms
        for symbol, p in zip(symbols, probabilities, strict=True):
            column = self._column.get(symbol)
            if column is not None:
                self._probabilities[row, column] = p
        self._rows += 1

    @property
    def nbytes(self) -> int:
        return self._times.nbytes + self._probabilities.nbytes

    def by_pair(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """symbol -> (times_ms, probabilities) of its finite predictions, in time order."""
        times, table = self._times[: self._rows], self._probabilities[: self._rows]
        result = {}
        for symbol, column in self._column.items():
            values = table[:, column].astype(np.float64)
            finite = np.isfinite(values)
            if finite.any():
                result[symbol] = (times[finite], values[finite])
        return result

    def __iter__(self) -> Iterator[Prediction]:
        """Time order, then the symbols' order."""
        table = self._probabilities[: self._rows].tolist()
        for time_ms, row in zip(self._times[: self._rows].tolist(), table, strict=True):
            for symbol, p in zip(self.symbols, row, strict=True):
                if not math.isnan(p):
                    yield Prediction(time_ms, symbol, p)

    def __len__(self) -> int:
        return int(np.count_nonzero(~np.isnan(self._probabilities[: self._rows])))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PredictionLog):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # unhashable: typeshed types it as a method
