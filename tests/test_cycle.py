"""The seven-phase cycle on the simulator, end to end, with a fake clock (no sleeping)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import make_settings

from tui_bot.clock import FakeClock
from tui_bot.engine import commands as cmd
from tui_bot.engine.model import InlineTrainer
from tui_bot.engine.snapshot import PHASES, Snapshot
from tui_bot.runtime import Runtime, build_runtime

CANDLE_S = 300  # scan.timeframe's default, 5m


class CountingExchange:
    """Wraps an exchange and counts calls per method."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.id = inner.id
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return await attr(*args, **kwargs)

        return counted


def runtime_for(tmp_path: Path, clock: FakeClock, **values: object) -> Runtime:
    settings = make_settings(tmp_path, **values)
    runtime = build_runtime(settings, trainer=InlineTrainer(), clock=clock)
    counting = CountingExchange(runtime.exchange)
    engine = runtime.engine
    engine.exchange = engine.scanner.exchange = engine.executor.exchange = counting
    return runtime


async def run(runtime: Runtime, cycles: int) -> list[Snapshot]:
    snapshots: list[Snapshot] = []
    await runtime.engine.start()
    await runtime.engine.run(cycles, snapshots.append)
    return snapshots


async def test_many_cycles_trade_and_hit_the_caches(tmp_path: Path, clock: FakeClock) -> None:
    runtime = runtime_for(tmp_path, clock)
    snaps = await run(runtime, 12)
    try:
        assert [s.cycle for s in snaps] == list(range(1, 13))
        first, last = snaps[0], snaps[-1]
        assert set(first.phases) == set(PHASES)
        assert all(first.phases[p] is not None for p in PHASES[:5])
        # cycle 1 misses the scan cache; cycles 2-5 (within 300 s at 60 s) hit it
        assert [s.caches["market_scan"].hits for s in snaps[:5]] == [0, 1, 2, 3, 4]
        assert last.caches["ml_prediction"].hits > 0
        assert last.caches["symbol_group"].hits > 0
        assert last.caches["indicators"].hits > 0
        assert sum(s.orders_placed for s in snaps) > 0
        assert last.model.auc is not None and last.model.samples > 0
        assert last.equity > 0
        assert all(o.probability == o.probability for o in last.opportunities)  # no NaN
        reported = [s.cycle for s in snaps if s.phases["performance_monitoring"] is not None]
        assert reported == [10]  # report_every_cycles = 10
    finally:
        await runtime.close()


async def test_a_scan_cache_hit_never_touches_the_exchange(
    tmp_path: Path, clock: FakeClock
) -> None:
    runtime = runtime_for(tmp_path, clock)
    await run(runtime, 1)
    exchange = runtime.engine.exchange
    before = dict(exchange.calls)
    await runtime.engine.run(1)
    assert exchange.calls.get("fetch_ohlcv", 0) == before.get("fetch_ohlcv", 0)
    await runtime.close()


async def test_an_uncached_cycle_fetches_the_all_symbols_ticker_once(
    tmp_path: Path, clock: FakeClock
) -> None:
    """update_positions and the scan share one fetch_tickers (the costliest request)."""
    runtime = runtime_for(tmp_path, clock)
    await run(runtime, 1)
    exchange = runtime.engine.exchange
    before = exchange.calls.get("fetch_tickers", 0)
    runtime.engine.submit(cmd.ScanNow())
    await runtime.engine.run(1)
    assert exchange.calls.get("fetch_tickers", 0) - before == 1
    await runtime.close()


async def test_scan_concurrency_is_bounded_by_max_parallel_workers(
    tmp_path: Path, clock: FakeClock
) -> None:
    runtime = runtime_for(tmp_path, clock, **{"scan.max_parallel_workers": 3, "sim.latency_ms": 5})
    await runtime.engine.start()
    clock.advance(CANDLE_S)  # a new candle for every symbol: the scan fetches them all
    await runtime.engine.run(1)
    assert runtime.engine.scanner.max_in_flight == 3
    new = runtime.engine.settings.with_values({"scan.max_parallel_workers": 5})
    runtime.engine.submit(cmd.ApplySettings(new))
    runtime.engine.submit(cmd.ScanNow())
    clock.advance(CANDLE_S)
    await runtime.engine.run(1)
    assert runtime.engine.scanner.max_in_flight == 5
    await runtime.close()


async def test_settings_apply_without_restart(tmp_path: Path, clock: FakeClock) -> None:
    runtime = runtime_for(tmp_path, clock)
    snaps = await run(runtime, 1)
    assert snaps[0].caches["market_scan"].ttl == 300
    new = runtime.engine.settings.with_values(
        {"scan.cache_duration": 240, "ml.prediction_cache_duration": 200}
    )
    runtime.engine.submit(cmd.ApplySettings(new))
    snaps = []
    await runtime.engine.run(1, snaps.append)
    assert snaps[0].caches["market_scan"].ttl == 240
    assert snaps[0].caches["ml_prediction"].ttl == 200
    await runtime.close()


async def test_snapshot_published_after_every_phase(tmp_path: Path, clock: FakeClock) -> None:
    runtime = runtime_for(tmp_path, clock)
    seen: list[str | None] = []
    runtime.engine.on_snapshot = lambda s: seen.append(s.phase)
    await run(runtime, 1)
    for phase in PHASES[:5]:
        assert phase in seen
    await runtime.close()


async def test_phase_failure_becomes_an_alert_and_the_cycle_goes_on(
    tmp_path: Path, clock: FakeClock
) -> None:
    runtime = runtime_for(tmp_path, clock)
    engine = runtime.engine

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("indicator bug")

    engine.signals.generate = broken  # type: ignore[method-assign]
    snaps = await run(runtime, 2)
    assert [s.cycle for s in snaps] == [1, 2]
    assert any("indicator bug" in a.message and a.level == "error" for a in snaps[-1].alerts)
    await runtime.close()


async def test_exchange_outage_is_survived(tmp_path: Path, clock: FakeClock) -> None:
    runtime = runtime_for(tmp_path, clock, **{"sim.error_rate": 0.3})
    snaps = await run(runtime, 8)
    assert [s.cycle for s in snaps] == list(range(1, 9))
    await runtime.close()


async def test_pause_resume_and_stop_commands(tmp_path: Path, clock: FakeClock) -> None:
    runtime = runtime_for(tmp_path, clock)
    engine = runtime.engine
    await engine.start()
    engine.submit(cmd.Pause())
    engine._drain_commands()
    assert engine.snapshot().paused
    engine.submit(cmd.Resume())
    engine.submit(cmd.Stop())
    await engine.run(None)  # returns because of Stop
    assert engine.stopping
    await runtime.close()


async def test_kill_switch_stops_new_positions(tmp_path: Path, clock: FakeClock) -> None:
    runtime = runtime_for(tmp_path, clock)
    engine = runtime.engine
    await engine.start()
    await engine.run(1)
    engine.peak = engine.equity * 2  # a 50 % drawdown
    snaps: list[Snapshot] = []
    await engine.run(1, snaps.append)
    assert snaps[0].kill_switch
    assert snaps[0].orders_placed == 0 or not any(o.approved for o in snaps[0].opportunities)
    assert all(o.action.startswith("kill switch") for o in snaps[0].opportunities)
    assert any("drawdown" in a.message for a in snaps[0].alerts)
    await runtime.close()


async def open_one(runtime: Runtime, symbol: str = "BTC/USDT") -> None:
    """Open a position directly through the executor, as an approved opportunity would."""
    engine = runtime.engine
    context = {"group": "layer-1", "probability": 0.6, "features": [0.5, 0.0, 0.0, 1.0, 0.1, -0.2]}
    result = await engine.executor.open_position(999, symbol, 0.01, context)
    assert result.status == "filled"


async def test_closed_trades_become_samples(tmp_path: Path, clock: FakeClock) -> None:
    runtime = runtime_for(tmp_path, clock, **{"risk.max_hold_minutes": 5})
    engine = runtime.engine
    await run(runtime, 1)
    await open_one(runtime)
    before = len(engine.models.samples)
    resolved: list[Any] = []  # predictions whose horizon passed, added as samples too
    add_outcomes = engine.models.add_outcomes
    engine.models.add_outcomes = lambda rows, tf: (resolved.extend(rows), add_outcomes(rows, tf))
    clock.advance(600)
    await engine.run(1)
    trade = next(t for t in engine.store.trades() if t.symbol == "BTC/USDT")
    assert trade.reason == "max_hold"
    assert not any(r.traded for r in resolved)  # a traded prediction brings its trade instead
    assert len(engine.models.samples) == before + len(engine.store.trades()) + len(resolved)
    assert engine.models.samples.outcome[-1] == pytest.approx(
        engine.store.trades()[0].pnl_pct / 100, abs=1e-6
    )
    assert engine.models.samples.X[-1].tolist() == pytest.approx([0.5, 0.0, 0.0, 1.0, 0.1, -0.2])
    await runtime.close()


async def test_restart_continues_where_it_stopped(tmp_path: Path, clock: FakeClock) -> None:
    runtime = runtime_for(tmp_path, clock)
    await run(runtime, 3)
    positions = runtime.store.positions()
    model_time = runtime.engine.models.model.trained_at
    await runtime.close()
    again = runtime_for(tmp_path, clock)
    snaps = await run(again, 1)
    assert snaps[0].cycle == 4
    assert {p.symbol for p in positions} <= {p.symbol for p in again.store.positions()} | {
        t.symbol for t in again.store.trades()
    }
    assert again.engine.models.model.trained_at == model_time  # loaded, not retrained
    assert any("bootstrap" in a.message for a in snaps[0].alerts)  # alerts survive a restart
    await again.close()


async def test_corrupt_model_file_alerts_and_retrains(tmp_path: Path, clock: FakeClock) -> None:
    runtime = runtime_for(tmp_path, clock)
    await run(runtime, 1)
    path = runtime.engine.models.model_path
    await runtime.close()
    path.write_bytes(b"not a model")
    again = runtime_for(tmp_path, clock)
    await again.engine.start()
    assert again.engine.models.model is not None
    assert any(a.source == "model" and a.level == "error" for a in again.engine.alerts)
    await again.close()


async def test_retrain_now_trains_and_clears_the_prediction_cache(
    tmp_path: Path, clock: FakeClock
) -> None:
    runtime = runtime_for(tmp_path, clock)
    await run(runtime, 1)
    engine = runtime.engine
    assert len(engine.prediction_cache) > 0
    clock.advance(1)
    engine.submit(cmd.RetrainNow())
    snaps: list[Snapshot] = []
    await engine.run(1, snaps.append)
    assert snaps[0].phases["ml_training"] is not None
    assert engine.models.model.trained_at > clock.now() - 120
    await runtime.close()


async def test_close_position_command(tmp_path: Path, clock: FakeClock) -> None:
    runtime = runtime_for(tmp_path, clock)
    engine = runtime.engine
    await run(runtime, 1)
    await open_one(runtime, "ETH/USDT")
    engine.submit(cmd.ClosePosition("ETH/USDT"))
    await engine.run(1)
    assert any(t.reason == "manual" and t.symbol == "ETH/USDT" for t in engine.store.trades())
    assert "ETH/USDT" not in {p.symbol for p in engine.store.positions()}
    await runtime.close()


async def test_a_command_does_not_start_a_cycle_early(tmp_path: Path, clock: FakeClock) -> None:
    runtime = runtime_for(tmp_path, clock)
    engine = runtime.engine
    await run(runtime, 1)
    assert engine.next_cycle_at == pytest.approx(clock.now() + 60, abs=5)
    engine.submit(cmd.Pause())
    engine._drain_commands()
    clock.advance(120)
    assert not engine._due()  # paused, though the time has come
    engine.submit(cmd.Resume())
    engine._drain_commands()
    assert engine._due()
    engine.next_cycle_at = clock.now() + 30
    assert not engine._due()
    engine.submit(cmd.ScanNow())
    engine._drain_commands()
    assert engine._due()  # scan now runs at once
    await runtime.close()
