"""Our vectorized indicators against TA-Lib itself (the C library), value by value.

TA-Lib is in the dev extra, so `make test` always runs this; without it the module fails to
import rather than being skipped without anyone noticing.
"""

from __future__ import annotations

import numpy as np
import pytest

from tui_bot.clock import FakeClock
from tui_bot.engine.indicators import (
    MACD_FAST,
    MACD_SIGNAL,
    MACD_SLOW,
    MOMENTUM_PERIOD,
    RSI_PERIOD,
    VOLUME_PERIOD,
    compute_indicators,
)
from tui_bot.exchange.sim import SimExchange, sim_start_time

try:
    import talib
except ImportError as exc:  # pragma: no cover - the dev extra installs it
    raise ImportError("TA-Lib is missing: pip install -e '.[dev]' (it has wheels)") from exc

TOLERANCE = 1e-6
WARMUP = 100  # the "after warm-up"; in fact they agree from the first value


def talib_indicators(close: np.ndarray, volume: np.ndarray) -> dict[str, np.ndarray]:
    macd, signal, hist = talib.MACD(close, MACD_FAST, MACD_SLOW, MACD_SIGNAL)
    return {
        "rsi": talib.RSI(close, RSI_PERIOD),
        "macd": macd,
        "macd_signal": signal,
        "macd_hist": hist,
        "momentum": talib.ROCR(close, MOMENTUM_PERIOD) - 1.0,
        "volume_ratio": volume / talib.SMA(volume, VOLUME_PERIOD),
    }


def random_walks(n: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    start = rng.uniform(1e-5, 90_000, size=(n, 1))  # from meme coins to BTC
    close = start * np.exp(np.cumsum(rng.normal(0, 0.02, size=(n, length)), axis=1))
    return close, rng.lognormal(10, 1, size=(n, length))


def simulated(n: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    sim = SimExchange(clock=FakeClock(sim_start_time("5m")), n_symbols=n)
    candles = np.stack([sim.candles(s, 2000 - length, 2000) for s in sim.symbols])
    return candles[:, :, 4], candles[:, :, 5]


def assert_agree(close: np.ndarray, volume: np.ndarray, start: int) -> None:
    ours = compute_indicators(close, volume)
    for i in range(len(close)):
        reference = talib_indicators(close[i], volume[i])
        for name, want in reference.items():
            got = getattr(ours, name)[i]
            # warm-up: NaN exactly where TA-Lib has no output yet
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=name)
            np.testing.assert_allclose(
                got[start:], want[start:], rtol=0, atol=TOLERANCE, err_msg=f"{name} row {i}"
            )


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_walks_agree_with_talib_after_warmup(seed: int) -> None:
    close, volume = random_walks(8, 400, seed)
    assert_agree(close, volume, WARMUP)


def test_random_walks_agree_with_talib_from_the_first_value() -> None:
    close, volume = random_walks(8, 200, 42)
    assert_agree(close, volume, 0)


def test_simulated_market_agrees_with_talib() -> None:
    close, volume = simulated(44, 500)
    assert_agree(close, volume, WARMUP)


def test_short_histories_agree_with_talib() -> None:
    for length in (12, 15, 26, 33, 34, 40):
        close, volume = random_walks(3, length, length)
        assert_agree(close, volume, 0)


def test_the_one_documented_deviation_is_a_flat_price() -> None:
    close = np.full((1, 60), 100.0)
    volume = np.ones((1, 60))
    ours = compute_indicators(close, volume).rsi[0, RSI_PERIOD:]
    theirs = talib.RSI(close[0], RSI_PERIOD)[RSI_PERIOD:]
    np.testing.assert_array_equal(ours, 50.0)  # neutral, where TA-Lib says 0
    np.testing.assert_array_equal(theirs, 0.0)
