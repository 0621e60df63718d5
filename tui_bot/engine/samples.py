"""Training samples held in preallocated numpy arrays, never as lists of dicts.

Rows are kept in time order (oldest first). When the buffer fills up it is pruned to half its
capacity: half of the kept rows are the most recent ones, the other half the rows whose outcome
is furthest from the median outcome (the most informative wins and losses).
"""

from __future__ import annotations

import io
import zipfile
import zlib

import numpy as np

_CORRUPT_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


class SampleBuffer:
    """A bounded, time-ordered store of (features, outcome, time) training rows."""

    def __init__(self, n_features: int, capacity: int) -> None:
        if n_features < 1 or capacity < 1:
            raise ValueError(
                f"n_features and capacity must be >= 1, got {n_features} and {capacity}"
            )
        self.n_features = n_features
        self.capacity = capacity
        self._X = np.zeros((capacity, n_features), dtype=np.float32)
        self._outcome = np.zeros(capacity, dtype=np.float32)
        self._time = np.zeros(capacity, dtype=np.float64)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def X(self) -> np.ndarray:
        return self._X[: self._size]

    @property
    def outcome(self) -> np.ndarray:
        return self._outcome[: self._size]

    @property
    def time(self) -> np.ndarray:
        return self._time[: self._size]

    @property
    def nbytes(self) -> int:
        """Bytes held by the preallocated arrays."""
        return self._X.nbytes + self._outcome.nbytes + self._time.nbytes

    def add(self, X: np.ndarray, outcome: np.ndarray, time: np.ndarray) -> None:
        """Append a batch of rows; prune first if it does not fit."""
        X, outcome, time = _validated(X, outcome, time, self.n_features)
        if len(time) > self.capacity:
            newest = np.sort(np.argsort(time, kind="stable")[-self.capacity :])
            X, outcome, time = X[newest], outcome[newest], time[newest]
        if self._size + len(time) > self.capacity:
            self.prune()
        if self._size + len(time) > self.capacity:
            self._keep(self._important(self.capacity - len(time)))
        start, end = self._size, self._size + len(time)
        self._X[start:end] = X
        self._outcome[start:end] = outcome
        self._time[start:end] = time
        self._size = end
        self._restore_time_order(start)

    def prune(self) -> int:
        """Cut to half capacity keeping recent and extreme rows; return how many were removed."""
        target = self.capacity // 2
        if self._size <= target:
            return 0
        removed = self._size - target
        self._keep(self._important(target))
        return removed

    def most_important(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of the min(k, len) rows prune would keep, time-ordered: (X, outcome, time)."""
        rows = self._important(k)
        return self._X[rows], self._outcome[rows], self._time[rows]

    def to_bytes(self, k: int) -> bytes:
        """The `k` most important rows as compressed .npz bytes."""
        X, outcome, time = self.most_important(k)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, X=X, outcome=outcome, time=time)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, capacity: int) -> SampleBuffer:
        """A buffer holding the rows saved by `to_bytes`; ValueError if `data` is corrupt."""
        try:
            X, outcome, time = _read_npz(data)
            X, outcome, time = _validated(X, outcome, time, X.shape[1] if X.ndim == 2 else 0)
        except _CORRUPT_ERRORS as exc:
            raise ValueError(f"corrupt training-sample data: {exc}") from exc
        buffer = cls(X.shape[1], capacity)
        buffer.add(X, outcome, time)
        return buffer

    def _important(self, k: int) -> np.ndarray:
        """Indices of k rows: the ceil(k/2) newest plus the most extreme outcomes of the rest."""
        k = max(0, min(k, self._size))
        if k == 0:
            return np.empty(0, dtype=np.intp)
        n_recent = k - k // 2
        rest = self._size - n_recent
        extremity = np.abs(self._outcome[:rest] - np.median(self.outcome))
        extreme = np.argsort(-extremity, kind="stable")[: k - n_recent]
        return np.concatenate([np.sort(extreme), np.arange(rest, self._size)])

    def _keep(self, rows: np.ndarray) -> None:
        """Keep only `rows` (sorted indices), compacted at the front."""
        k = len(rows)
        self._X[:k] = self._X[rows]
        self._outcome[:k] = self._outcome[rows]
        self._time[:k] = self._time[rows]
        self._size = k

    def _restore_time_order(self, start: int) -> None:
        """Re-sort by time if rows added from `start` on are older than earlier rows. Only the
        rows from the first one newer than the oldest added are moved: the same order as a
        stable sort of them all, without touching the (long) sorted part before them."""
        tail = self._time[max(start - 1, 0) : self._size]
        if np.all(tail[1:] >= tail[:-1]):
            return
        oldest_added = self._time[start : self._size].min()
        low = int(np.searchsorted(self._time[:start], oldest_added, side="right"))
        order = low + np.argsort(self._time[low : self._size], kind="stable")
        end = self._size
        self._X[low:end] = self._X[order]
        self._outcome[low:end] = self._outcome[order]
        self._time[low:end] = self._time[order]


def _validated(
    X: np.ndarray, outcome: np.ndarray, time: np.ndarray, n_features: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float32)
    outcome = np.asarray(outcome, dtype=np.float32)
    time = np.asarray(time, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(f"X must be shaped (rows, {n_features}), got {X.shape}")
    if outcome.shape != (len(X),) or time.shape != (len(X),):
        raise ValueError(
            f"outcome {outcome.shape} and time {time.shape} must both be shaped ({len(X)},)"
        )
    if not (np.isfinite(outcome).all() and np.isfinite(time).all()):
        raise ValueError("outcome and time must be finite")
    return X, outcome, time


def _read_npz(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    loaded = np.load(io.BytesIO(data), allow_pickle=False)
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError("not an .npz archive")
    with loaded:
        return loaded["X"], loaded["outcome"], loaded["time"]
