"""What every trial of a sweep reads: the settings and the candles, cut into an in-sample part
(where the sweep ranks) and a later out-of-sample part (the last --holdout of the traded range).

The traded range is the backtest's: from the first cycle after backtest.warmup_candles to the
last candle. It is split at a candle: the in-sample backtest gets the candles up to the split (it
sells what is open at the split's open); the out-of-sample backtest gets the warm-up candles just
before the split as its history (its model's bootstrap, as a bot started at the split would
have), then trades from the split to the end. No candle after the split reaches the in-sample
run, so a setting chosen there has never seen the out-of-sample part.

SweepData is what a backend ships once to every worker; it counts, per process, how often it
was unpickled, so a trial can say whether its worker received the data more than once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from tui_bot.config import ConfigError, Settings, settings_values
from tui_bot.market.files import CandleDataError, CandleFile, timeframe_ms

DEFAULT_HOLDOUT = 0.3
MAX_HOLDOUT = 0.9
DAY_MS = 86_400_000
MIN_PART_CANDLES = 2  # each part needs a cycle and a candle to sell at

LOADS: Counter[str] = Counter()  # data key -> times this process unpickled it


@dataclass(frozen=True)
class Split:
    start_ms: int  # the in-sample part's first cycle (after the warm-up)
    split_ms: int  # the in-sample part's end; the out-of-sample part's first cycle
    end_ms: int  # the out-of-sample part's end (the last candle)
    holdout: float

    def days(self) -> tuple[int, int]:
        """UTC days each part's cycles touch (the daily returns its Sharpe is computed from):
        in sample, out of sample (0 with --holdout 0)."""
        inside = self.split_ms // DAY_MS - self.start_ms // DAY_MS + 1
        outside = self.end_ms // DAY_MS - self.split_ms // DAY_MS + 1 if self.holdout else 0
        return inside, outside

    def to_json(self) -> dict[str, Any]:
        oos = None if self.holdout == 0 else {"start": iso(self.split_ms), "end": iso(self.end_ms)}
        return {
            "holdout": self.holdout,
            "in_sample": {"start": iso(self.start_ms), "end": iso(self.split_ms)},
            "out_of_sample": oos,
        }


@dataclass(frozen=True, eq=False)
class SweepData:
    settings: Settings  # the base settings (config < env < --set), picklable
    in_sample: tuple[CandleFile, ...]
    out_of_sample: tuple[CandleFile, ...]  # empty with --holdout 0
    split: Split
    key: str  # sha256 of all of the above: names the data in a worker's cache
    notes: tuple[str, ...] = ()  # about the data, one line each (skipped pairs, gaps)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        LOADS[state["key"]] += 1

    @property
    def nbytes(self) -> int:
        return sum(f.nbytes for f in (*self.in_sample, *self.out_of_sample))


def prepare(settings: Settings, files: Sequence[CandleFile], holdout: float) -> SweepData:
    """Cut `files` into the two parts. ConfigError / CandleDataError (the user's text) when the
    settings pick no pair or the range is too short for the holdout."""
    from tui_bot.backtest.run import select_pairs  # the engine's imports: not on --help's path

    if not 0 <= holdout <= MAX_HOLDOUT:
        raise ConfigError(
            f"--holdout {holdout}: give a share of the traded range between 0 and {MAX_HOLDOUT} "
            f"(default {DEFAULT_HOLDOUT}: the last 30 % is out of sample)"
        )
    kept, skipped = select_pairs(files, settings.bot.stake_currency)
    warmup = settings.backtest.warmup_candles
    long = [f for f in kept if len(f) >= warmup + MIN_PART_CANDLES]
    if not long:
        most = max(len(f) for f in kept)
        raise ConfigError(
            f"backtest.warmup_candles = {warmup}: no pair has more candles than that (the most: "
            f"{most}); give a longer --timerange or --set backtest.warmup_candles="
            f"{max(100, most // 4)}"
        )
    skipped += [
        f"{f.symbol}: skipped: {len(f)} candles, not more than backtest.warmup_candles = {warmup}"
        for f in kept
        if len(f) < warmup + MIN_PART_CANDLES
    ]
    split = _split(long, warmup, holdout)
    in_sample = tuple(_until(f, split.split_ms) for f in long)
    out_of_sample = () if holdout == 0 else tuple(_from(f, split.split_ms, warmup) for f in long)
    notes = tuple(skipped) + tuple(p for f in long for p in f.problems)
    settings = portable(settings)
    key = _key(settings, in_sample, out_of_sample, split)
    return SweepData(settings, in_sample, out_of_sample, split, key, notes)


def portable(settings: Settings) -> Settings:
    """The settings with plain dicts for their read-only mappings, which do not pickle."""
    return dataclasses.replace(
        settings, sources=dict(settings.sources), env_names=dict(settings.env_names)
    )


def _split(files: Sequence[CandleFile], warmup: int, holdout: float) -> Split:
    timeframes = sorted({f.timeframe for f in files})
    if len(timeframes) > 1:
        raise CandleDataError(
            f"the candle files mix timeframes ({', '.join(timeframes)}); a sweep runs on one: "
            "give files of one timeframe"
        )
    tf = timeframe_ms(timeframes[0])
    start = max(int(f.times[warmup]) for f in files)
    end = min(int(f.times[-1]) for f in files)
    candles = (end - start) // tf
    held = round(candles * holdout)
    if holdout == 0:
        held = 0
    elif held < MIN_PART_CANDLES or candles - held < MIN_PART_CANDLES:
        raise CandleDataError(
            f"the traded range (after the warm-up of {warmup} candles) is {max(candles, 0)} "
            f"candles: too short to hold out {holdout:.0%} of it: give a longer --timerange, "
            "--set backtest.warmup_candles lower, or a smaller --holdout"
        )
    return Split(start, end - held * tf, end, holdout)


def _until(f: CandleFile, split_ms: int) -> CandleFile:
    keep = f.times <= split_ms
    return dataclasses.replace(f, times=f.times[keep], prices=f.prices[keep])


def _from(f: CandleFile, split_ms: int, warmup: int) -> CandleFile:
    first = max(0, int(np.searchsorted(f.times, split_ms, side="left")) - warmup)
    return dataclasses.replace(f, times=f.times[first:], prices=f.prices[first:])


def _key(
    settings: Settings,
    in_sample: Sequence[CandleFile],
    out_of_sample: Sequence[CandleFile],
    split: Split,
) -> str:
    digest = hashlib.sha256()
    values = json.dumps(settings_values(settings), sort_keys=True, default=str)
    digest.update(values.encode())
    digest.update(repr(split).encode())
    for f in (*in_sample, *out_of_sample):
        digest.update(f"{f.symbol}|{f.timeframe}|".encode())
        digest.update(np.ascontiguousarray(f.times).tobytes())
        digest.update(np.ascontiguousarray(f.prices).tobytes())
    return digest.hexdigest()


def iso(ms: int) -> str:
    """ms -> "2018-01-10T04:55:00Z"."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
