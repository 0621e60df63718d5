"""The backtest's report: the summary figures, the JSON object and the readable text.

Everything here is computed from a finished BacktestRun; nothing looks at the engine. Every
float that goes into the JSON object is finite: a figure that cannot be computed (no trades, no
losses, one class of outcomes) is None (null in JSON), never NaN or infinity.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from tui_bot.engine.outcome import trade_outcomes
from tui_bot.engine.validation import EDGE, auc, auc_interval, block_length
from tui_bot.exchange.base import timeframe_seconds
from tui_bot.market.files import PRICE_CLOSE, PRICE_OPEN, CandleFile

if TYPE_CHECKING:
    from tui_bot.backtest.run import BacktestRun, TradeRecord

DAY_MS = 86_400_000
DAYS_PER_YEAR = 365  # crypto trades every day: daily returns are annualised with sqrt(365)
MIN_DAYS = 5  # fewer daily returns say nothing: two near-equal days give a Sharpe of thousands


def _finite(value: float | None) -> float | None:
    """A float for JSON: None for None, NaN and infinities."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else _finite(numerator / denominator)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _mean(values: Sequence[float]) -> float | None:
    return _finite(float(np.mean(values))) if len(values) else None


# -- the summary figures --------------------------------------------------------------------------


def max_drawdown_pct(starting_balance: float, equity: Sequence[float]) -> float:
    """The largest fall from a running peak, in % of that peak; the starting balance is the
    first peak (a first trade's fees are a drawdown too). 0.0 with no equity points."""
    values = np.asarray([starting_balance, *equity], dtype=np.float64)
    peaks = np.maximum.accumulate(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        falls = np.where(peaks > 0, (peaks - values) / peaks, 0.0)
    return float(falls.max()) * 100.0


def daily_returns(starting_balance: float, equity: Sequence[tuple[int, float]]) -> np.ndarray:
    """Returns from one UTC day's last equity point to the next day's; the day before the first
    point closes at the starting balance. Days without an equity point are skipped."""
    closes: dict[int, float] = {}
    for time_ms, value in equity:
        closes[int(time_ms) // DAY_MS] = float(value)
    values = np.asarray([starting_balance, *(closes[d] for d in sorted(closes))])
    with np.errstate(divide="ignore", invalid="ignore"):
        returns: np.ndarray = values[1:] / values[:-1] - 1.0
    return returns


def sharpe(returns: np.ndarray) -> float | None:
    """mean / standard deviation (ddof 1) of daily returns x sqrt(365), no risk-free rate;
    None with fewer than MIN_DAYS returns or no variation."""
    if len(returns) < MIN_DAYS:
        return None
    std = float(np.std(returns, ddof=1))
    return None if std == 0 else _finite(float(np.mean(returns)) / std * math.sqrt(DAYS_PER_YEAR))


def sortino(returns: np.ndarray) -> float | None:
    """mean of daily returns / downside deviation x sqrt(365), where the downside deviation is
    sqrt(mean(min(r, 0)^2)) over all days (target 0); None with fewer than MIN_DAYS returns or
    no losing day."""
    if len(returns) < MIN_DAYS:
        return None
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    if downside == 0:
        return None
    return _finite(float(np.mean(returns)) / downside * math.sqrt(DAYS_PER_YEAR))


def profit_factor(trades: Sequence[TradeRecord]) -> float | None:
    """Gross profit of the winning trades / gross loss of the losing ones (stake currency);
    None when no trade lost (infinite, or nothing traded)."""
    gains = sum(t.profit_abs for t in trades if t.profit_abs > 0)
    losses = -sum(t.profit_abs for t in trades if t.profit_abs < 0)
    return _ratio(gains, losses)


def exposure_pct(
    equity: Sequence[tuple[int, float]], trades: Sequence[TradeRecord], end_ms: int
) -> float:
    """% of cycles with at least one position open. The cycles are the equity points before
    end_ms (the point at end_ms is the final sale, not a cycle); a cycle at time t is exposed
    when a trade has open_time <= t < close_time. 0.0 with no cycles."""
    times = np.asarray([t for t, _ in equity if t < end_ms], dtype=np.int64)
    if len(times) == 0:
        return 0.0
    open_now = np.zeros(len(times) + 1, dtype=np.int64)
    for trade in trades:
        open_now[np.searchsorted(times, trade.open_time, side="left")] += 1
        open_now[np.searchsorted(times, trade.close_time, side="left")] -= 1
    exposed = np.cumsum(open_now)[:-1] > 0
    return float(exposed.mean()) * 100.0


def market_change_pct(
    closes: Mapping[str, CandleFile], pairs: Iterable[str], start_ms: int, end_ms: int
) -> float | None:
    """Buy and hold of the pairs, equally weighted, over the traded range: per pair the close
    of the last candle opened in [start_ms, end_ms) / the open of the first one - 1, then the
    mean over the pairs that have a candle there, in %. None when none has."""
    changes = []
    for pair in pairs:
        candles = closes.get(pair)
        if candles is None:
            continue
        inside = candles.prices[(candles.times >= start_ms) & (candles.times < end_ms)]
        if len(inside) and inside[0, PRICE_OPEN] > 0:
            changes.append(float(inside[-1, PRICE_CLOSE]) / float(inside[0, PRICE_OPEN]) - 1.0)
    return None if not changes else _finite(float(np.mean(changes)) * 100.0)


def summarize(run: BacktestRun) -> dict[str, Any]:
    """The `summary` object. Times are ISO-8601 UTC strings ("2018-01-10T04:55:00Z"); money is
    in the stake currency; every *_pct is in percent; None (JSON null) where undefined.

    - start, end: the traded range, run.start_ms and run.end_ms (after the warm-up).
    - pairs: the names of the pairs traded on (a list); candles, cycles: as run counted them.
    - trades: closed trades (open ones were closed at the end, reason "end_of_data").
    - wins: trades with profit_abs > 0 (after both fees); win_rate: wins / trades, a fraction
      in [0, 1] (None with no trades).
    - profit_abs: the sum of the trades' profit_abs (after fees); profit_total_pct: profit_abs
      in % of run.starting_balance.
    - avg_profit_pct: the mean of the trades' profit_pct (each in % of its own stake).
    - expectancy_pct: the mean profit_abs of one trade in % of the starting balance: what a
      trade adds to the account on average (avg_profit_pct is per stake in the trade).
    - max_drawdown_pct: see max_drawdown_pct() (over the equity curve, one point a cycle).
    - sharpe, sortino: from daily returns of the equity curve (each UTC day's last point),
      annualised with sqrt(365), no risk-free rate, None under MIN_DAYS days; see sharpe().
    - profit_factor: gross wins / gross losses; None when no trade lost.
    - exposure_pct: % of cycles (equity points before end) with at least one position open.
    - avg_hold_minutes: the mean of close_time - open_time.
    - fees_paid: the sum of the trades' fees (both sides).
    - market_change_pct: equal-weighted buy and hold of the same pairs over the same range.
    - seconds: wall time of the run; cycles_per_second: cycles / seconds.
    """
    trades = run.trades
    n = len(trades)
    wins = sum(1 for t in trades if t.profit_abs > 0)
    profit = float(sum(t.profit_abs for t in trades))
    returns = daily_returns(run.starting_balance, run.equity)
    holds = [(t.close_time - t.open_time) / 60_000 for t in trades]
    return {
        "start": _iso(run.start_ms),
        "end": _iso(run.end_ms),
        "pairs": list(run.pairs),
        "candles": int(run.candles),
        "cycles": int(run.cycles),
        "trades": n,
        "wins": wins,
        "win_rate": _ratio(wins, n),
        "profit_total_pct": _ratio(profit * 100.0, run.starting_balance),
        "profit_abs": _finite(profit),
        "avg_profit_pct": _mean([t.profit_pct for t in trades]),
        "max_drawdown_pct": _finite(max_drawdown_pct(run.starting_balance, _values(run))),
        "sharpe": sharpe(returns),
        "sortino": sortino(returns),
        "profit_factor": profit_factor(trades),
        "expectancy_pct": _ratio(profit * 100.0, n * run.starting_balance) if n else None,
        "exposure_pct": _finite(exposure_pct(run.equity, trades, run.end_ms)),
        "avg_hold_minutes": _mean(holds),
        "fees_paid": _finite(sum(t.fee for t in trades)),
        "market_change_pct": market_change_pct(run.closes, run.pairs, run.start_ms, run.end_ms),
        "seconds": _finite(run.seconds),
        "cycles_per_second": _ratio(run.cycles, run.seconds) if run.seconds > 0 else None,
    }


def _values(run: BacktestRun) -> list[float]:
    return [value for _, value in run.equity]


# -- out-of-sample AUC ----------------------------------------------------------------------------


def oos_outcomes(run: BacktestRun) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(probabilities, labels, times in ms) of the predictions whose outcome the data resolves.

    A prediction made at data time t is about the last candle closed by t (open time
    <= t - timeframe); its label is the model's training label: the tradeable outcome of a
    signal on that candle (engine.outcome, with the run's rules) made money after fees.
    Predictions whose horizon runs past the data or over a gap, NaN ones and ones about a pair
    without candles are dropped.
    """
    tf_ms = timeframe_seconds(run.timeframe) * 1000
    probabilities, labels, when = [], [], []
    for pair, (times, probability) in run.predictions.by_pair().items():
        candles = run.closes.get(pair)
        if candles is None or len(candles) == 0:
            continue
        index = np.searchsorted(candles.times, times - tf_ms, side="right") - 1
        keep = index >= 0
        out = trade_outcomes(candles.candles, run.rules, index[keep])
        known = out.known
        probabilities.append(probability[keep][known])
        labels.append(out.win[known])
        when.append(times[keep][known])
    if not probabilities:
        return np.empty(0), np.empty(0, dtype=np.int8), np.empty(0, dtype=np.int64)
    return np.concatenate(probabilities), np.concatenate(labels), np.concatenate(when)


def oos_auc(run: BacktestRun) -> tuple[float | None, int]:
    """ROC AUC of the predictions against their label (see oos_outcomes), and the rows scored;
    None when fewer than two classes occur."""
    probabilities, labels, _ = oos_outcomes(run)
    if len(np.unique(labels)) < 2:
        return None, len(labels)
    return _finite(auc(labels, probabilities)), len(labels)


def oos_interval(run: BacktestRun) -> tuple[float | None, float | None]:
    """The out-of-sample AUC's 95 % block-bootstrap interval (blocks of overlapping labels)."""
    probabilities, labels, times = oos_outcomes(run)
    order = np.argsort(times, kind="stable")
    block = block_length(times, run.rules.horizon)
    low, high = auc_interval(labels[order], probabilities[order], block)
    return _finite(low), _finite(high)


# -- the JSON object ------------------------------------------------------------------------------


def trade_json(trade: TradeRecord) -> dict[str, Any]:
    return {
        "pair": trade.pair,
        "open_time": int(trade.open_time),
        "close_time": int(trade.close_time),
        "open_price": _finite(trade.open_price),
        "close_price": _finite(trade.close_price),
        "amount": _finite(trade.amount),
        "profit_pct": _finite(trade.profit_pct),
        "profit_abs": _finite(trade.profit_abs),
        "fee": _finite(trade.fee),
        "exit_reason": trade.exit_reason,
        "probability": _finite(trade.probability),
    }


def _group_stats(trades: Sequence[TradeRecord]) -> dict[str, Any]:
    wins = sum(1 for t in trades if t.profit_abs > 0)
    return {
        "trades": len(trades),
        "wins": wins,
        "win_rate": _ratio(wins, len(trades)),
        "profit_abs": _finite(sum(t.profit_abs for t in trades)),
        "avg_profit_pct": _mean([t.profit_pct for t in trades]),
    }


def _grouped(
    trades: Sequence[TradeRecord], key: Callable[[TradeRecord], str], names: Iterable[str] = ()
) -> dict[str, list[TradeRecord]]:
    groups: dict[str, list[TradeRecord]] = {name: [] for name in names}
    for trade in trades:
        groups.setdefault(key(trade), []).append(trade)
    return groups


def per_pair(run: BacktestRun) -> list[dict[str, Any]]:
    """One row per pair (pairs without trades included), the most profitable first."""
    groups = _grouped(run.trades, lambda t: t.pair, run.pairs)
    rows = [{"pair": pair, **_group_stats(trades)} for pair, trades in groups.items()]
    return sorted(rows, key=lambda r: (-(r["profit_abs"] or 0.0), r["pair"]))


def per_exit_reason(run: BacktestRun) -> list[dict[str, Any]]:
    """One row per exit reason that occurred, the most frequent first."""
    groups = _grouped(run.trades, lambda t: t.exit_reason)
    rows = [{"exit_reason": reason, **_group_stats(trades)} for reason, trades in groups.items()]
    return sorted(rows, key=lambda r: (-r["trades"], r["exit_reason"]))


def model_json(run: BacktestRun) -> dict[str, Any]:
    """The model's figures. validation_*: the bootstrap model's walk-forward folds on the
    warm-up; oos_*: every prediction of the run scored on its tradeable outcome; live_*: the
    engine's live record at the end (its last resolved predictions, as the dashboard shows)."""
    oos, rows = oos_auc(run)
    v, live = run.validation, run.live
    return {
        "kind": run.model_kind,
        "retrains": int(run.retrains),
        "validation_auc": _finite(run.validation_auc),
        "validation_auc_ci": _pair(v.auc_low, v.auc_high) if v else None,
        "validation_rows": v.validation_rows if v else 0,
        "validation_expectancy_pct": _finite(v.expectancy_pct) if v else None,
        "oos_auc": oos,
        "oos_auc_ci": _pair(*oos_interval(run)),
        "oos_rows": rows,
        "log_loss": _finite(v.log_loss) if v else None,
        "constant_log_loss": _finite(v.constant_log_loss) if v else None,
        "live_auc": live.auc,
        "live_auc_ci": _pair(live.auc_low, live.auc_high),
        "live_rows": live.rows,
        "verdict": run.verdict,
        "verdict_reason": run.verdict_reason,
        "require_edge": run.require_edge,
        "label": run.rules.describe(),
    }


def _pair(low: float | None, high: float | None) -> list[float] | None:
    low, high = _finite(low), _finite(high)
    return None if low is None or high is None else [low, high]


def report_json(run: BacktestRun) -> dict[str, Any]:
    """{summary, trades, per_pair, per_exit_reason, model, equity}: JSON-safe (no NaN or
    infinity: json.dumps(..., allow_nan=False) accepts it); times of trades and equity in ms."""
    return {
        "summary": summarize(run),
        "trades": [trade_json(t) for t in run.trades],
        "per_pair": per_pair(run),
        "per_exit_reason": per_exit_reason(run),
        "model": model_json(run),
        "equity": [[int(t), _finite(v)] for t, v in run.equity],
    }


# -- the readable report --------------------------------------------------------------------------


WIDTH = 96  # the report's paragraphs are wrapped to this


def _num(value: float | None, digits: int = 2, sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+,.{digits}f}" if sign else f"{value:,.{digits}f}"


def _money(value: float | None, currency: str, sign: bool = False) -> str:
    if value is None:
        return "-"
    digits = 2 if abs(value) >= 1 or value == 0 else 8
    return f"{_num(value, digits, sign)} {currency}"


def _when(iso: str) -> str:
    return iso.replace("T", " ")[:16]


def auc_meaning(auc: float | None, low: float | None, high: float | None) -> str:
    """A plain sentence on what an out-of-sample AUC says, read off its 95 % interval (a block
    bootstrap: overlapping labels are not independent evidence)."""
    if auc is None:
        return "not measurable: no resolved predictions with both outcomes"
    if low is None or high is None:
        return f"{auc:.3f}, too few rows of one outcome for an interval: no verdict"
    ci = f"{auc:.3f} (95 % interval {low:.3f}-{high:.3f})"
    if low <= 0.5 <= high:
        return f"{ci}: no better than chance"
    if high < 0.5:
        return f"{ci}: worse than chance: the model ranks the outcomes the wrong way round"
    if auc < 0.55:
        return f"{ci}: better than chance, but a weak edge; fees can eat it"
    return f"{ci}: a real edge over chance on this data"


def _table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: tuple[str, ...]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  " + "  ".join([first, *rest]).rstrip()

    return [line(headers), "  " + "  ".join("-" * w for w in widths), *map(line, rows)]


def _group_rows(groups: list[dict[str, Any]], key: str, currency: str) -> list[tuple[str, ...]]:
    return [
        (
            g[key],
            str(g["trades"]),
            str(g["wins"]),
            "-" if g["win_rate"] is None else f"{g['win_rate'] * 100:.1f} %",
            _money(g["profit_abs"], currency, sign=True),
            "-" if g["avg_profit_pct"] is None else f"{g['avg_profit_pct']:+.2f} %",
        )
        for g in groups
    ]


GROUP_HEADERS = ("trades", "wins", "win rate", "profit", "avg profit")


def _header(run: BacktestRun, s: dict[str, Any]) -> list[str]:
    days = (run.end_ms - run.start_ms) / DAY_MS
    warmup = (
        f"{run.warmup_candles:,} candles a pair from {_when(_iso(run.warmup_start_ms))} UTC: "
        "the model's first training data, not traded"
    )
    speed = _num(s["cycles_per_second"], 0)
    return [
        f"Backtest  {_when(s['start'])} -> {_when(s['end'])} UTC ({days:.1f} days of "
        f"{run.timeframe} candles)",
        f"Pairs     {', '.join(run.pairs)} ({len(run.pairs)}), stake {run.stake_currency}, "
        f"starting balance {_money(run.starting_balance, run.stake_currency)}",
        f"Warm-up   {warmup}",
        f"Run       {s['candles']:,} candles, {s['cycles']:,} cycles in {run.seconds:.1f} s "
        f"({speed} cycles/s)",
        f"          the engine {run.cycle_ms:.2f} ms a cycle, training the model "
        f"{run.training_seconds:.1f} s of it",
    ]


def _summary_block(run: BacktestRun, s: dict[str, Any]) -> list[str]:
    c = run.stake_currency
    win_rate = "-" if s["win_rate"] is None else f"{s['win_rate'] * 100:.1f} %"
    market = "-" if s["market_change_pct"] is None else f"{s['market_change_pct']:+.2f} %"
    profit_pct = _num(s["profit_total_pct"], 2, sign=True)
    pairs = [
        ("Trades", f"{s['trades']:,} ({s['wins']:,} won, win rate {win_rate})"),
        ("Profit", f"{_money(s['profit_abs'], c, sign=True)} ({profit_pct} %), after fees"),
        ("Fees paid", _money(s["fees_paid"], c)),
        ("Market change", f"{market} (buy and hold of the same pairs, equal weights)"),
        ("Avg profit", f"{_num(s['avg_profit_pct'], 2, sign=True)} % a trade (of its stake)"),
        ("Expectancy", f"{_num(s['expectancy_pct'], 4, sign=True)} % of the balance a trade"),
        ("Profit factor", _num(s["profit_factor"])),
        ("Max drawdown", f"{_num(s['max_drawdown_pct'])} %"),
        ("Sharpe", f"{_num(s['sharpe'])} (daily returns, annualised)"),
        ("Sortino", f"{_num(s['sortino'])} (daily returns, annualised)"),
        ("Exposure", f"{_num(s['exposure_pct'], 1)} % of cycles with a position open"),
        ("Avg hold", f"{_num(s['avg_hold_minutes'], 0)} min"),
    ]
    return ["Summary", *(f"  {name:<14}{value}" for name, value in pairs)]


def _verdict(s: dict[str, Any], currency: str) -> str:
    """The plain comparison: the strategy's result next to holding the same coins."""
    market = s["market_change_pct"]
    if s["trades"] == 0:
        held = "" if market is None else f"; holding the same pairs returned {market:+.2f} %"
        return f"No trade was made{held}."
    result = (
        f"The bot {'made' if (s['profit_abs'] or 0) > 0 else 'lost'} "
        f"{_num(abs(s['profit_total_pct'] or 0.0))} % after paying "
        f"{_money(s['fees_paid'], currency)} in fees"
    )
    if market is None:
        return result + "."
    better = (s["profit_total_pct"] or 0.0) > market
    return (
        f"{result}; holding the same pairs would have returned {market:+.2f} %: the bot did "
        f"{'better' if better else 'worse'} than buy and hold."
    )


def _model_block(run: BacktestRun, model: dict[str, Any]) -> list[str]:
    if run.model_kind is None:
        trained = "no model was trained (too little warm-up data?)"
    else:
        trained = f"{run.model_kind}, trained {run.retrains + 1} time(s) on data time"
    low, high = model["oos_auc_ci"] or (None, None)
    lines = [
        f"learns: {model['label']}",
        f"validation (the first model, walk-forward folds on the warm-up): {_validation(run)}",
        f"out-of-sample AUC over {model['oos_rows']:,} predictions scored on outcomes unknown "
        f"when made: {auc_meaning(model['oos_auc'], low, high)}",
        f"verdict: {run.verdict} ({run.verdict_reason})",
    ]
    if run.require_edge and run.verdict != EDGE:
        lines.append(
            "ml.require_edge kept the bot out of new positions while the model showed no edge; "
            "--set ml.require_edge=false shows how it would have traded"
        )
    wrapped = [
        w
        for line in lines
        for w in textwrap.wrap(line, WIDTH, initial_indent="  ", subsequent_indent="    ")
    ]
    return ["Model", f"  {trained}", *wrapped]


def _validation(run: BacktestRun) -> str:
    v = run.validation
    if v is None or v.validation_rows == 0:
        return "not validated"
    ci = "" if not math.isfinite(v.auc_low) else f" ({v.auc_low:.3f}-{v.auc_high:.3f})"
    expectancy = (
        "no held-out trade above the entry threshold"
        if v.validation_trades == 0
        else f"the entry rule's {v.validation_trades:,} held-out trades {v.expectancy_pct:+.3f} "
        f"% a trade after fees (every row: {v.base_expectancy_pct:+.3f} %)"
    )
    return (
        f"AUC {v.auc:.3f}{ci} over {v.validation_rows:,} rows in {v.folds} folds, log loss "
        f"{v.log_loss:.4f} vs {v.constant_log_loss:.4f} for a constant; {expectancy}"
    )


def report_text(run: BacktestRun) -> str:
    """The readable report: range, pairs, warm-up; the summary; per-pair and per-exit-reason
    tables; the model's out-of-sample AUC in words; data problems."""
    data = report_json(run)
    s = data["summary"]
    c = run.stake_currency
    verdict = textwrap.fill(_verdict(s, c), WIDTH, initial_indent="  ", subsequent_indent="  ")
    lines = [*_header(run, s), "", *_summary_block(run, s), "", verdict, ""]
    lines += [
        "Per pair",
        *_table(("pair", *GROUP_HEADERS), _group_rows(data["per_pair"], "pair", c)),
    ]
    if data["per_exit_reason"]:
        rows = _group_rows(data["per_exit_reason"], "exit_reason", c)
        lines += ["", "Per exit reason", *_table(("exit reason", *GROUP_HEADERS), rows)]
    lines += ["", *_model_block(run, data["model"])]
    notes = [*run.skipped, *run.problems]
    if notes:
        lines += ["", "Data", *(f"  {note}" for note in notes)]
    return "\n".join(lines) + "\n"
