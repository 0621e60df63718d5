"""The backtest runner and `tui-bot backtest`: no look-ahead (the cut-off test), determinism,
fills at the next candle's open, exits on candle ranges, the stake filter, the CLI's JSON."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tui_bot.backtest import run as backtest_run
from tui_bot.backtest.command import sample_stake
from tui_bot.backtest.report import summarize
from tui_bot.backtest.run import END_OF_DATA, BacktestRun, cycle_seconds, run_backtest, select_pairs
from tui_bot.cli import main
from tui_bot.config import ConfigError, Settings, load_settings
from tui_bot.engine.outcome import EXIT_REASONS, exit_rules, trade_outcomes
from tui_bot.engine.positions import exit_reason
from tui_bot.engine.scanner import MarketScanner
from tui_bot.market.files import CandleFile, load_candles
from tui_bot.store import PositionRow

PAIRS = ("ETH/BTC", "LTC/BTC", "XLM/BTC")  # ADA's gaps are another test's subject
CANDLES = 600
WARMUP = 200
CUT = 450  # the truncated run keeps candles [0, CUT)
TF_MS = 300_000
SUMMARY_KEYS = {
    "start", "end", "pairs", "candles", "cycles", "trades", "wins", "win_rate",
    "profit_total_pct", "profit_abs", "avg_profit_pct", "max_drawdown_pct", "sharpe", "sortino",
    "profit_factor", "expectancy_pct", "exposure_pct", "avg_hold_minutes", "fees_paid",
    "market_change_pct", "seconds", "cycles_per_second",
}  # fmt: skip


def _settings(tmp: Path, **overrides: str) -> Settings:
    values = {
        "bot.stake_currency": "BTC",
        "backtest.warmup_candles": str(WARMUP),
        "ml.require_edge": "false",  # the trading is the subject here, not the edge gate
        "storage.dir": str(tmp / "unused"),  # a backtest writes nothing there
        **overrides,
    }
    return load_settings(None, env={}, overrides=values)


def _files(length: int = CANDLES) -> list[CandleFile]:
    files = load_candles(pairs=list(PAIRS))
    return [f.with_rows(f.candles[:length]) for f in files]


def _changed_future(from_index: int) -> list[CandleFile]:
    """The files with every candle from `from_index` on made 50 % dearer (still valid)."""
    changed = []
    for f in _files():
        rows = f.candles
        rows[from_index:, 1:5] *= 1.5
        changed.append(f.with_rows(rows))
    return changed


class _ScanSpy:
    """Wraps MarketScanner.scan: every scan's candles must be closed by the engine's clock."""

    def __init__(self) -> None:
        self.scans = 0
        self.late: list[tuple[float, float]] = []
        self.original = MarketScanner.scan

    async def scan(self, scanner: MarketScanner, force: bool = False, tickers: Any = None) -> Any:
        result = await self.original(scanner, force, tickers)
        now_ms = scanner.clock.now() * 1000
        self.scans += 1
        for candles in result.candles.values():
            if len(candles) and candles[-1, 0] + TF_MS > now_ms:
                self.late.append((now_ms, float(candles[-1, 0])))
        return result

    def scan_method(self) -> Any:
        async def scan(scanner: MarketScanner, force: bool = False, tickers: Any = None) -> Any:
            return await self.scan(scanner, force, tickers)

        return scan


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The full run (watched by the scan spy), the same again, and the run cut off at CUT."""
    tmp = tmp_path_factory.mktemp("backtest")
    settings = _settings(tmp)
    spy = _ScanSpy()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(MarketScanner, "scan", spy.scan_method())
        full = run_backtest(settings, _files())
    again = run_backtest(settings, _files())
    cut = run_backtest(settings, _files(CUT))
    held = _index_while_held(full)
    changed = run_backtest(settings, _changed_future(held))
    return {
        "full": full, "again": again, "cut": cut, "changed": changed, "changed_at": held,
        "spy": spy, "tmp": tmp,
    }  # fmt: skip


def _index_while_held(run: BacktestRun) -> int:
    """A candle index from CUT on at whose open a position is held: the equity marked then
    depends on the price the engine sees."""
    times = _files()[0].times
    return next(
        i
        for i in range(CUT, CANDLES - 2)
        if any(t.open_time < times[i] < t.close_time for t in run.trades)
    )


def _candle(run: BacktestRun, pair: str, open_ms: int) -> np.ndarray:
    candles = run.closes[pair].candles
    row = candles[candles[:, 0] == open_ms]
    assert len(row) == 1, f"no {pair} candle opens at {open_ms}"
    return row[0]


# -- no look-ahead --------------------------------------------------------------------------


def test_cutting_the_data_off_changes_nothing_before_the_cut(runs: dict[str, Any]) -> None:
    full, cut = runs["full"], runs["cut"]
    last_cycle = cut.equity[-2][0]  # the cut run's last cycle; its end point follows
    assert last_cycle == int(_files(CUT)[0].candles[CUT - 2, 0])
    before = [t for t in full.trades if t.close_time <= last_cycle]
    assert len(before) >= 20  # enough trading for the comparison to mean something
    assert [t for t in cut.trades if t.exit_reason != END_OF_DATA] == before
    assert cut.equity[:-1] == tuple(p for p in full.equity if p[0] <= last_cycle)
    assert list(cut.predictions) == [p for p in full.predictions if p.time_ms <= last_cycle]
    assert cut.retrains >= 1  # the model retrained on data time in the compared part


def test_a_different_future_changes_nothing_up_to_its_start(runs: dict[str, Any]) -> None:
    """Candles from T on changed: every decision up to the cycle at T is the same (that cycle
    sees the candles closed by T, none of the changed ones); only fills from T on differ."""
    full, changed = runs["full"], runs["changed"]
    t = int(_files()[0].candles[runs["changed_at"], 0])
    assert [x for x in changed.trades if x.close_time < t] == [
        x for x in full.trades if x.close_time < t
    ]
    assert [p for p in changed.equity if p[0] <= t] == [p for p in full.equity if p[0] <= t]
    assert [p for p in changed.predictions if p.time_ms <= t] == [
        p for p in full.predictions if p.time_ms <= t
    ]
    assert changed.trades != full.trades  # the change itself is seen once it has happened


def test_every_scan_sees_only_candles_closed_by_the_clock(runs: dict[str, Any]) -> None:
    spy = runs["spy"]
    assert spy.scans >= runs["full"].cycles  # the spy watched the whole run
    assert spy.late == []


def test_orders_fill_at_the_next_candles_open_with_slippage(runs: dict[str, Any]) -> None:
    full = runs["full"]
    slip = 5 / 10_000  # backtest.slippage_bps default
    for trade in full.trades:
        entry = _candle(full, trade.pair, trade.open_time)
        exit_ = _candle(full, trade.pair, trade.close_time)
        assert trade.open_price == pytest.approx(entry[1] * (1 + slip), rel=1e-12)
        assert trade.close_price == pytest.approx(exit_[1] * (1 - slip), rel=1e-12)
        cost_in, cost_out = trade.amount * trade.open_price, trade.amount * trade.close_price
        assert trade.fee == pytest.approx((cost_in + cost_out) * 0.001, rel=1e-6)


def test_stop_loss_and_take_profit_are_checked_on_candle_lows_and_highs(
    runs: dict[str, Any],
) -> None:
    """An exit at cycle t is due to the candles that closed since the previous cycle: their low
    for a stop-loss, their high for a take-profit; at least one exit is seen only in a range
    (the last close alone would not have triggered it)."""
    full = runs["full"]
    step = cycle_seconds(60, "5m") * 1000
    by_range_only = 0
    for trade in full.trades:
        if trade.exit_reason not in ("stop_loss", "take_profit"):
            continue
        entry = trade.open_price
        seen = _candle(full, trade.pair, trade.close_time - step)  # closed at the exit's cycle
        if trade.exit_reason == "stop_loss":
            assert seen[3] <= entry * (1 - 0.02) * (1 + 1e-12)
            by_range_only += seen[4] > entry * (1 - 0.02)
        else:
            assert seen[2] >= entry * (1 + 0.03) * (1 - 1e-12)
            by_range_only += seen[4] < entry * (1 + 0.03)
    assert by_range_only >= 1


def test_every_trade_is_the_outcome_the_labels_compute(runs: dict[str, Any]) -> None:
    """The backtest's fills and the model's labels are one definition (engine.outcome)."""
    full = runs["full"]
    rules = exit_rules(_settings(runs["tmp"]), 300)
    checked = 0
    for trade in full.trades:
        if trade.exit_reason == END_OF_DATA:
            continue
        f = full.closes[trade.pair]
        signal = int(np.searchsorted(f.times, trade.open_time)) - 1  # the last candle closed
        out = trade_outcomes(f.candles, rules, np.array([signal]))
        assert out.known[0]
        assert int(f.times[out.exit_index[0]]) == trade.close_time
        assert EXIT_REASONS[out.reason[0]] == trade.exit_reason
        assert out.entry_price[0] == pytest.approx(trade.open_price, rel=1e-12)
        assert out.exit_price[0] == pytest.approx(trade.close_price, rel=1e-12)
        assert out.net_return[0] * 100 == pytest.approx(trade.profit_pct, abs=1e-6)
        checked += 1
    assert checked >= 10


def test_exit_reason_reads_the_range_and_counts_the_stop_loss_first() -> None:
    position = PositionRow(
        "ETH/BTC", "other", "long", 1.0, 100.0, 100.0, 98.0, 103.0, 0.0, 0.6, (), "id"
    )
    hold = 3600.0
    assert exit_reason(position, 100.0, 60.0, hold) is None
    assert exit_reason(position, 100.0, 60.0, hold, low=99.0, high=103.5) == "take_profit"
    assert exit_reason(position, 100.0, 60.0, hold, low=97.0, high=101.0) == "stop_loss"
    assert exit_reason(position, 100.0, 60.0, hold, low=97.0, high=104.0) == "stop_loss"
    assert exit_reason(position, 97.5, 60.0, hold) == "stop_loss"  # without a range: as before
    assert exit_reason(position, 100.0, 3600.0, hold, low=99.0, high=101.0) == "max_hold"


# -- determinism and the run's shape ----------------------------------------------------------


def test_the_same_input_gives_the_same_trades_and_summary(runs: dict[str, Any]) -> None:
    full, again = runs["full"], runs["again"]
    assert full.trades == again.trades
    assert full.equity == again.equity
    assert full.predictions == again.predictions
    timing = {"seconds", "cycles_per_second"}
    first = {k: v for k, v in summarize(full).items() if k not in timing}
    second = {k: v for k, v in summarize(again).items() if k not in timing}
    assert first == second


def test_the_run_trades_after_the_warmup_and_sells_what_is_open_at_the_end(
    runs: dict[str, Any],
) -> None:
    full = runs["full"]
    candles = _files()[0].candles
    assert full.warmup_start_ms == int(candles[0, 0])
    assert full.start_ms == int(candles[WARMUP, 0])
    assert full.end_ms == int(candles[-1, 0])
    assert full.cycles == CANDLES - WARMUP - 1  # one a candle, the last candle is the end
    assert full.equity[0][0] == full.start_ms and full.equity[-1][0] == full.end_ms
    assert min(t.open_time for t in full.trades) >= full.start_ms
    assert [t.close_time for t in full.trades] == sorted(t.close_time for t in full.trades)
    ends = [t for t in full.trades if t.exit_reason == END_OF_DATA]
    assert all(t.close_time == full.end_ms for t in ends)
    assert all(t.probability >= 0.55 for t in full.trades)  # the entry's, risk.min_probability
    assert full.model_kind == "hist_gradient_boosting"
    assert {p.symbol for p in full.predictions} == set(PAIRS)
    assert all(0.0 <= p.probability <= 1.0 for p in full.predictions)


def test_the_run_says_what_its_time_was_spent_on(runs: dict[str, Any]) -> None:
    full = runs["full"]
    assert full.retrains >= 1 and full.training_seconds > 0 and full.cycle_ms > 0
    assert full.cycle_ms * full.cycles / 1000 + full.training_seconds < full.seconds
    every_cycle = [ms for name, ms in full.phase_ms.items() if name != "ml_training"]
    assert len(every_cycle) >= 5 and 0 < sum(every_cycle) < full.cycle_ms
    assert full.phase_ms["ml_training"] * full.retrains / 1000 < full.training_seconds


def test_a_cycle_lasts_check_interval_rounded_up_to_whole_candles() -> None:
    assert cycle_seconds(60, "5m") == 300
    assert cycle_seconds(300, "5m") == 300
    assert cycle_seconds(301, "5m") == 600
    assert cycle_seconds(900, "1m") == 900


# -- pairs, settings and refusals -----------------------------------------------------------


def _quoted(files: list[CandleFile], quote: str) -> list[CandleFile]:
    return [dataclasses.replace(f, symbol=f.symbol.replace("/BTC", f"/{quote}")) for f in files]


def test_pairs_in_another_quote_are_skipped_by_name() -> None:
    files = _files(300)
    mixed = [*files[:2], *_quoted(files[2:], "USDT")]
    kept, skipped = select_pairs(mixed, "BTC")
    assert [f.symbol for f in kept] == ["ETH/BTC", "LTC/BTC"]
    assert skipped == [
        "XLM/USDT: skipped: quoted in USDT, not in bot.stake_currency BTC",
    ]


def test_no_pair_in_the_stake_currency_is_an_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        select_pairs(_files(300), "USDT")
    message = str(caught.value)
    assert "\n" not in message
    assert "bot.stake_currency = USDT" in message
    assert "--set bot.stake_currency=BTC" in message


def test_a_warmup_longer_than_the_data_is_an_error_naming_the_key(tmp_path: Path) -> None:
    settings = _settings(tmp_path, **{"backtest.warmup_candles": "1000"})
    with pytest.raises(ConfigError, match=r"backtest\.warmup_candles = 1000"):
        run_backtest(settings, _files(300))


def test_backtest_keys_are_validated(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert settings.backtest.starting_balance == 10000.0
    assert settings.backtest.fee_pct == 0.1
    assert settings.backtest.slippage_bps == 5.0
    with pytest.raises(ConfigError, match="backtest.warmup_candles"):
        _settings(tmp_path, **{"backtest.warmup_candles": "10"})
    with pytest.raises(ConfigError, match="backtest.fee_pct"):
        _settings(tmp_path, **{"backtest.fee_pct": "-1"})


def test_the_store_of_a_backtest_is_in_memory(runs: dict[str, Any]) -> None:
    assert not (runs["tmp"] / "unused").exists()


# -- the command line -----------------------------------------------------------------------


def _write_csv(directory: Path, files: list[CandleFile]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for f in files:
        lines = ["timestamp_ms,open,high,low,close,volume"]
        lines += [
            f"{int(r[0])},{r[1]!r},{r[2]!r},{r[3]!r},{r[4]!r},{r[5]!r}" for r in f.candles.tolist()
        ]
        name = f.symbol.replace("/", "_") + f"-{f.timeframe}.csv"
        (directory / name).write_text("\n".join(lines) + "\n")


def test_backtest_json_prints_one_object_with_every_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no config.toml of the project's
    data = tmp_path / "candles"
    _write_csv(data, _files(400))
    out = tmp_path / "report.json"
    code = main(
        ["backtest", "--data", str(data), "--json", "--out", str(out),
         "--set", "bot.stake_currency=BTC", "--set", f"backtest.warmup_candles={WARMUP}"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)  # exactly one object: anything more fails to parse
    assert set(report) == {"summary", "trades", "per_pair", "per_exit_reason", "model", "equity"}
    assert set(report["summary"]) == SUMMARY_KEYS
    assert report["summary"]["pairs"] == list(PAIRS)
    assert report["summary"]["cycles"] == 400 - WARMUP - 1
    assert json.loads(out.read_text()) == report
    assert sorted(p.name for p in tmp_path.iterdir()) == ["candles", "report.json"]  # no temp


def test_backtest_with_no_pair_in_the_stake_currency_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "candles"
    _write_csv(data, _files(300))
    code = main(["backtest", "--data", str(data), "--set", "bot.stake_currency=USDT"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    errors = captured.err.strip().splitlines()
    assert len(errors) == 1 and "bot.stake_currency = USDT" in errors[0]


def test_backtest_out_into_a_missing_folder_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr(backtest_run, "run_backtest", lambda *a: calls.append(a))
    code = main(["backtest", "--out", str(tmp_path / "nowhere" / "r.json")])
    captured = capsys.readouterr()
    assert code == 2 and calls == []
    assert "nowhere" in captured.err and "does not exist" in captured.err


def test_the_sample_is_backtested_in_its_quote_with_a_notice(tmp_path: Path) -> None:
    settings = _settings(tmp_path, **{"bot.stake_currency": "USDT"})
    chosen, notice = sample_stake(settings, ["ADA/BTC", "ETH/BTC"])
    assert chosen.bot.stake_currency == "BTC"
    assert notice is not None and "bundled sample is quoted in BTC" in notice
    assert "instead of USDT" in notice
    assert sample_stake(chosen, ["ADA/BTC"]) == (chosen, None)


def test_backtest_with_no_arguments_runs_the_bundled_sample_in_its_quote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the defaults: bot.stake_currency = USDT
    code = main(
        ["backtest", "--timerange", "20180110-20180111", "--set", "backtest.warmup_candles=100"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "bundled sample is quoted in BTC" in captured.err
    assert "cycles" in captured.err  # the progress, on stderr
    assert "ADA/BTC" in captured.out and "{" not in captured.out  # the readable report
