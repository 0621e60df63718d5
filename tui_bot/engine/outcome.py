"""The trade the bot can actually make after a signal, and what it nets: one definition for the
model's labels, the live record of its predictions and the backtest's fills.

A signal on the candle at index s (the last one closed when the cycle ran) buys at the next
candle's open plus slippage. From then on the position is checked once every `check_candles`
candles, on the candles that closed since the last check: their low against the stop-loss first
(a range touching both exits counts as the stop-loss, the cautious reading), then their high
against the take-profit, then the time held against the maximum. An exit sells at the open of
the candle after the check, minus slippage. Both fills pay `fee_pct`. This is what the engine
does (positions.exit_reason) and what the backtest venue fills (fill_price).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tui_bot.config import Settings
from tui_bot.engine.words import ExitReason
from tui_bot.exchange.ledger import fill_price

__all__ = [
    "EXIT_REASONS",
    "ExitRules",
    "Outcomes",
    "check_candles",
    "exit_rules",
    "fill_price",
    "net_return",
    "trade_outcomes",
]

# Outcomes.reason indexes these
EXIT_REASONS = (ExitReason.STOP_LOSS, ExitReason.TAKE_PROFIT, ExitReason.MAX_HOLD)
_T, _OPEN, _HIGH, _LOW, _CLOSE = 0, 1, 2, 3, 4  # columns of a (T, 6) candle array


def net_return(entry: np.ndarray | float, exit_: np.ndarray | float, fee: float) -> np.ndarray:
    """What the stake became, as a fraction, after paying `fee` on both fills."""
    return np.asarray(exit_) * (1.0 - fee) / (np.asarray(entry) * (1.0 + fee)) - 1.0


@dataclass(frozen=True)
class ExitRules:
    """The bot's own entry and exit rules, in candles of one timeframe."""

    stop_loss_pct: float
    take_profit_pct: float
    max_hold_seconds: float
    timeframe_seconds: int
    check_candles: int = 1  # candles between two checks of an open position (a cycle)
    fee_pct: float = 0.1  # per side
    slippage_bps: float = 5.0

    @property
    def checks(self) -> int:
        """The check at which the maximum hold time forces the exit."""
        step = self.check_candles * self.timeframe_seconds
        return max(1, math.ceil(self.max_hold_seconds / step))

    @property
    def horizon(self) -> int:
        """Candles after the signal candle a trade can need: its outcome is known once the
        candle at s + horizon is there (its open is the last possible exit)."""
        return self.checks * self.check_candles + 1

    @property
    def fee(self) -> float:
        return self.fee_pct / 100.0

    @property
    def slippage(self) -> float:
        return self.slippage_bps / 10_000.0

    def describe(self) -> str:
        return (
            f"buy at the next open +{self.slippage_bps:g} bps; stop-loss -{self.stop_loss_pct:g} "
            f"%, take-profit +{self.take_profit_pct:g} %, max hold "
            f"{self.max_hold_seconds / 60:g} min; {self.fee_pct:g} % fee a side; "
            "a win when it nets more than 0"
        )


def check_candles(check_interval: float, timeframe_seconds: int) -> int:
    """Candles between two cycles: bot.check_interval rounded up to whole candles, at least one
    (a cycle between candle closes would see nothing new)."""
    return max(1, math.ceil(check_interval / timeframe_seconds))


def exit_rules(settings: Settings, timeframe_seconds: int) -> ExitRules:
    """The rules `settings` trade by (risk.*, bot.check_interval); the costs are the
    backtest's (backtest.fee_pct, backtest.slippage_bps), the ones a label assumes live too."""
    risk, bt = settings.risk, settings.backtest
    return ExitRules(
        stop_loss_pct=risk.stop_loss_pct,
        take_profit_pct=risk.take_profit_pct,
        max_hold_seconds=risk.max_hold_minutes * 60,
        timeframe_seconds=timeframe_seconds,
        check_candles=check_candles(settings.bot.check_interval, timeframe_seconds),
        fee_pct=bt.fee_pct,
        slippage_bps=bt.slippage_bps,
    )


@dataclass(frozen=True)
class Outcomes:
    """One row per signal index asked for; NaN / -1 where the trade cannot be known (the data
    ends before its horizon, or a gap lies inside it)."""

    signal: np.ndarray  # (n,) int64 signal candle indexes
    net_return: np.ndarray  # (n,) float64, after both fees
    entry_price: np.ndarray  # (n,) float64
    exit_price: np.ndarray  # (n,) float64
    exit_index: np.ndarray  # (n,) int64: the candle whose open the sell fills at; -1 unknown
    reason: np.ndarray  # (n,) int8 index into EXIT_REASONS; -1 unknown

    @property
    def known(self) -> np.ndarray:
        return self.exit_index >= 0

    @property
    def win(self) -> np.ndarray:
        """1 where the trade made money after fees, else 0 (unknown rows too: mask with known)."""
        won: np.ndarray = np.nan_to_num(self.net_return, nan=-1.0) > 0
        return won.astype(np.int8)


def trade_outcomes(
    candles: np.ndarray, rules: ExitRules, signals: np.ndarray | None = None
) -> Outcomes:
    """The trade after each signal candle of one pair's (T, 6) candles `[open_ms, o, h, l, c, v]`
    (time-ordered); `signals`: the indexes to evaluate (default: all). Reads only candles up to
    s + rules.horizon for the signal at s."""
    candles = np.asarray(candles, dtype=np.float64)
    n_candles = len(candles)
    s = np.arange(n_candles) if signals is None else np.asarray(signals, dtype=np.int64)
    n = len(s)
    net = np.full(n, np.nan)
    entry = np.full(n, np.nan)
    exit_price = np.full(n, np.nan)
    exit_index = np.full(n, -1, dtype=np.int64)
    reason = np.full(n, -1, dtype=np.int8)
    ok = (s >= 0) & (s + rules.horizon < n_candles)
    ok[ok] &= _contiguous(candles[:, _T], rules.timeframe_seconds * 1000, rules.horizon)[s[ok]]
    rows = np.flatnonzero(ok)
    if len(rows):
        base = s[rows]
        entry_at = fill_price(candles[base + 1, _OPEN], "buy", rules.slippage)
        stop = entry_at * (1 - rules.stop_loss_pct / 100)
        take = entry_at * (1 + rules.take_profit_pct / 100)
        found_at, why = _first_exit(candles, base, stop, take, rules)
        sold = fill_price(candles[found_at, _OPEN], "sell", rules.slippage)
        entry[rows], exit_price[rows] = entry_at, sold
        net[rows] = net_return(entry_at, sold, rules.fee)
        exit_index[rows], reason[rows] = found_at, why
    return Outcomes(s, net, entry, exit_price, exit_index, reason)


def _first_exit(
    candles: np.ndarray, base: np.ndarray, stop: np.ndarray, take: np.ndarray, rules: ExitRules
) -> tuple[np.ndarray, np.ndarray]:
    """For each signal at `base`: the candle index whose open the sell fills at, and why. All
    checks at once: check k (1..checks) sees the candles base + 1 + (k - 1) * m .. base + k * m
    closed since the last one, and the last one's close as the ticker's price."""
    m, checks = rules.check_candles, rules.checks
    seen = base[:, None] + 1 + np.arange(checks * m)  # (signals, checks * m)
    low = candles[seen, _LOW].reshape(len(base), checks, m).min(axis=2)
    high = candles[seen, _HIGH].reshape(len(base), checks, m).max(axis=2)
    last = base[:, None] + m * np.arange(1, checks + 1)  # (signals, checks)
    close = candles[last, _CLOSE]
    stop_hit = np.minimum(low, close) <= stop[:, None]
    take_hit = np.maximum(high, close) >= take[:, None]
    exits = stop_hit | take_hit
    exits[:, -1] = True  # the maximum hold forces the last check's exit
    k = np.argmax(exits, axis=1)  # the first check that exits
    rows = np.arange(len(base))
    why = np.where(stop_hit[rows, k], 0, np.where(take_hit[rows, k], 1, 2)).astype(np.int8)
    return last[rows, k] + 1, why


def _contiguous(times: np.ndarray, tf_ms: int, horizon: int) -> np.ndarray:
    """True at s when the candles s..s+horizon follow each other without a gap."""
    step_ok = np.diff(times) == tf_ms
    gaps = np.concatenate([[0], np.cumsum(~step_ok)])  # gaps before each index
    ok = np.zeros(len(times), dtype=bool)
    if len(times) > horizon:
        ok[: len(times) - horizon] = gaps[horizon:] == gaps[:-horizon]
    return ok
