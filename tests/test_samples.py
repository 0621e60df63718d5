from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui_bot.engine.samples import SampleBuffer

N_FEATURES = 3


def make_batch(start: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows with times start..start+size-1; X[:, 0] repeats the time to check row integrity."""
    rng = np.random.default_rng(seed)
    time = np.arange(start, start + size, dtype=np.float64)
    X = rng.normal(size=(size, N_FEATURES)).astype(np.float32)
    X[:, 0] = time
    return X, rng.standard_t(3, size=size).astype(np.float32) / 100, time


def filled(capacity: int, sizes: list[int], seed: int) -> SampleBuffer:
    buffer = SampleBuffer(N_FEATURES, capacity)
    start = 0
    for i, size in enumerate(sizes):
        buffer.add(*make_batch(start, size, seed + i))
        start += size
    return buffer


def assert_consistent(buffer: SampleBuffer) -> None:
    assert len(buffer) <= buffer.capacity
    assert buffer.X.shape == (len(buffer), N_FEATURES)
    assert buffer.outcome.shape == buffer.time.shape == (len(buffer),)
    assert (np.diff(buffer.time) >= 0).all()
    np.testing.assert_array_equal(buffer.X[:, 0], buffer.time)  # rows stayed together


capacities = st.integers(min_value=4, max_value=64)
batch_sizes = st.lists(st.integers(min_value=1, max_value=100), min_size=1, max_size=12)
seeds = st.integers(min_value=0, max_value=2**16)


@given(capacities, batch_sizes, seeds)
def test_len_never_exceeds_capacity(capacity: int, sizes: list[int], seed: int) -> None:
    buffer = SampleBuffer(N_FEATURES, capacity)
    start = 0
    for i, size in enumerate(sizes):
        buffer.add(*make_batch(start, size, seed + i))
        start += size
        assert_consistent(buffer)
        assert buffer.time[-1] == start - 1  # the newest row is always kept
    assert len(buffer) >= min(start, capacity // 2)


@given(capacities, batch_sizes, seeds)
def test_prune_halves_and_keeps_newest_and_most_extreme(
    capacity: int, sizes: list[int], seed: int
) -> None:
    buffer = filled(capacity, sizes, seed)
    before = len(buffer)
    newest = buffer.time.max()
    median = np.median(buffer.outcome)
    most_extreme = np.abs(buffer.outcome - median).max()
    removed = buffer.prune()
    assert len(buffer) == min(before, capacity // 2)
    assert removed == before - len(buffer)
    assert buffer.time.max() == newest
    assert np.abs(buffer.outcome - median).max() == most_extreme
    assert_consistent(buffer)


@given(capacities, batch_sizes, seeds, st.integers(min_value=0, max_value=80))
def test_most_important_returns_min_k_len_rows_time_ordered(
    capacity: int, sizes: list[int], seed: int, k: int
) -> None:
    buffer = filled(capacity, sizes, seed)
    X, outcome, time = buffer.most_important(k)
    assert len(X) == len(outcome) == len(time) == min(k, len(buffer))
    assert (np.diff(time) >= 0).all()
    np.testing.assert_array_equal(X[:, 0], time)
    if k >= 2 and len(buffer) >= 2:
        assert time[-1] == buffer.time[-1]


@given(capacities, batch_sizes, seeds, st.integers(min_value=0, max_value=80))
def test_to_bytes_from_bytes_round_trip(capacity: int, sizes: list[int], seed: int, k: int) -> None:
    buffer = filled(capacity, sizes, seed)
    restored = SampleBuffer.from_bytes(buffer.to_bytes(k), capacity=capacity)
    X, outcome, time = buffer.most_important(k)
    np.testing.assert_array_equal(restored.X, X)
    np.testing.assert_array_equal(restored.outcome, outcome)
    np.testing.assert_array_equal(restored.time, time)
    assert restored.capacity == capacity and restored.n_features == N_FEATURES


def test_prune_split_between_recent_and_extreme() -> None:
    buffer = SampleBuffer(1, 8)
    outcome = np.array([0.0, 9.0, 0.1, -7.0, 0.2, 5.0, 0.0, 0.0], dtype=np.float32)
    buffer.add(np.zeros((8, 1)), outcome, np.arange(8.0))
    assert buffer.prune() == 4
    # two newest (t=6, 7) and the two most extreme of the rest (t=1: 9.0, t=3: -7.0)
    np.testing.assert_array_equal(buffer.time, [1.0, 3.0, 6.0, 7.0])
    np.testing.assert_array_equal(buffer.outcome, [9.0, -7.0, 0.0, 0.0])


def test_add_when_full_prunes_first() -> None:
    buffer = filled(10, [10], seed=1)
    buffer.add(*make_batch(10, 1, seed=2))
    assert len(buffer) == 6
    assert buffer.time[-1] == 10.0


def test_batch_larger_than_capacity_keeps_its_newest_rows() -> None:
    buffer = SampleBuffer(N_FEATURES, 10)
    X, outcome, time = make_batch(0, 25, seed=3)
    order = np.random.default_rng(0).permutation(25)
    buffer.add(X[order], outcome[order], time[order])
    np.testing.assert_array_equal(buffer.time, np.arange(15.0, 25.0))
    assert_consistent(buffer)


def test_older_rows_are_sorted_into_place() -> None:
    buffer = SampleBuffer(N_FEATURES, 20)
    buffer.add(*make_batch(10, 5, seed=1))
    buffer.add(*make_batch(0, 5, seed=2))
    np.testing.assert_array_equal(buffer.time, [0, 1, 2, 3, 4, 10, 11, 12, 13, 14])
    assert_consistent(buffer)


def test_late_rows_land_where_a_stable_sort_of_everything_puts_them() -> None:
    """Resolved predictions arrive a few candles late, between trades: the buffer must hold
    exactly what sorting all rows (stably, in arrival order) would give."""
    rng = np.random.default_rng(5)
    buffer = SampleBuffer(N_FEATURES, 10_000)
    rows_X, rows_out, rows_t = [], [], []
    for step in range(200):
        n = int(rng.integers(1, 6))
        t = step + np.round(rng.uniform(-8, 1, n))  # up to 8 steps late; ties happen
        X = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
        outcome = rng.normal(0, 0.01, n).astype(np.float32)
        buffer.add(X, outcome, t)
        rows_X.append(X), rows_out.append(outcome), rows_t.append(t)
    order = np.argsort(np.concatenate(rows_t), kind="stable")
    np.testing.assert_array_equal(buffer.time, np.concatenate(rows_t)[order])
    np.testing.assert_array_equal(buffer.X, np.concatenate(rows_X)[order])
    np.testing.assert_array_equal(buffer.outcome, np.concatenate(rows_out)[order])


def test_add_rejects_bad_shapes_and_non_finite_outcomes() -> None:
    buffer = SampleBuffer(N_FEATURES, 10)
    with pytest.raises(ValueError, match="X must be shaped"):
        buffer.add(np.zeros((2, 2)), np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="outcome"):
        buffer.add(np.zeros((2, N_FEATURES)), np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="finite"):
        buffer.add(np.zeros((1, N_FEATURES)), np.array([np.nan]), np.zeros(1))
    assert len(buffer) == 0


def test_15000_samples_fit_in_under_a_megabyte() -> None:
    buffer = SampleBuffer(4, 15_000)
    rng = np.random.default_rng(0)
    buffer.add(rng.normal(size=(15_000, 4)), rng.normal(0, 0.01, 15_000), np.arange(15_000.0))
    assert len(buffer) == 15_000
    assert buffer.nbytes < 1_000_000
    everything = io.BytesIO()
    np.savez_compressed(everything, X=buffer.X, outcome=buffer.outcome, time=buffer.time)
    persisted = buffer.to_bytes(5000)
    assert len(persisted) < 0.4 * len(everything.getvalue())
    assert len(SampleBuffer.from_bytes(persisted, 15_000)) == 5000


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage bytes, not an archive",
        SampleBuffer(N_FEATURES, 4).to_bytes(4)[:20],
    ],
)
def test_from_bytes_rejects_corrupt_data(data: bytes) -> None:
    with pytest.raises(ValueError, match="corrupt training-sample data"):
        SampleBuffer.from_bytes(data, capacity=100)


def test_from_bytes_rejects_wrong_contents() -> None:
    wrong_keys = io.BytesIO()
    np.savez_compressed(wrong_keys, features=np.zeros((2, 3)))
    mismatched = io.BytesIO()
    np.savez_compressed(mismatched, X=np.zeros((2, 3)), outcome=np.zeros(5), time=np.zeros(2))
    for data in (wrong_keys.getvalue(), mismatched.getvalue()):
        with pytest.raises(ValueError, match="corrupt training-sample data"):
            SampleBuffer.from_bytes(data, capacity=100)


def test_from_bytes_with_a_truncated_payload_of_a_real_archive() -> None:
    data = filled(50, [50], seed=5).to_bytes(50)
    with pytest.raises(ValueError, match="corrupt training-sample data"):
        SampleBuffer.from_bytes(data[: len(data) // 2], capacity=100)
