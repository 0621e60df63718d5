"""The seven-phase trading cycle. Publishes a frozen Snapshot after every phase."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from itertools import islice
from typing import Any

import numpy as np

from tui_bot.clock import Clock
from tui_bot.config import Settings
from tui_bot.engine import commands as cmd
from tui_bot.engine.caches import BoundedCache, TimedCache
from tui_bot.engine.dashboard_data import DashboardData
from tui_bot.engine.edge import Edge, TradeTotals, block_reason, model_edge, model_info
from tui_bot.engine.executor import Executor, round_amount
from tui_bot.engine.live_record import LiveRecord
from tui_bot.engine.model import Trainer
from tui_bot.engine.monitor import Monitor
from tui_bot.engine.outcome import exit_rules
from tui_bot.engine.positions import exit_reason, market_value, view
from tui_bot.engine.reconcile import (
    Holding,
    account_totals,
    lost_store_notice,
    outside_store,
    read_stake,
    reconcile_account,
)
from tui_bot.engine.risk import (
    Candidate,
    RiskLimits,
    SymbolGroups,
    drawdown_pct,
    evaluate,
    win_loss_ratio,
)
from tui_bot.engine.scanner import MarketScanner, ScanOptions, ScanResult, market_patterns
from tui_bot.engine.signals import IndicatorCache, PredictionCache, SignalGenerator, Signals
from tui_bot.engine.snapshot import PHASES, Alert, Opportunity, Snapshot, UnmanagedView
from tui_bot.engine.training import ModelManager
from tui_bot.engine.words import AlertLevel, ExitReason, Mode
from tui_bot.errors import StorageError
from tui_bot.exchange.base import Exchange, timeframe_seconds
from tui_bot.exchange.errors import AuthenticationError, ClockSkew, ExchangeError
from tui_bot.exchange.request_budget import BudgetFigures, RequestBudget
from tui_bot.redact import redact
from tui_bot.store import PositionRow, Store

log = logging.getLogger(__name__)
SnapshotFn = Callable[[Snapshot], None]
HISTORY_CANDLES = 1000
BOOTSTRAP_SAMPLES = 1000
EQUITY_HISTORY = 120  # points of the equity curve a snapshot carries
PNL_TRADES = 200  # the closed trades whose average win and loss size the next ones
LIVE_REFRESH = 500  # resolved predictions between two updates of the live figures (a bootstrap)
NOT_READ = object()  # no balance was read this cycle (an exchange may answer None)


@dataclass
class _CycleState:
    cycle: int = 0
    phases: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(PHASES))
    orders_placed: int = 0
    scan: ScanResult | None = None
    signals: Signals | None = None
    opportunities: tuple[Opportunity, ...] = ()
    force_scan: bool = False


class Engine:
    """Drives the cycle. Construct it, `await start()`, then `await run()` (or `run_cycle()`)."""

    def __init__(
        self,
        settings: Settings,
        exchange: Exchange,
        clock: Clock,
        store: Store,
        trainer: Trainer,
        mode: Mode = Mode.SIMULATED,
        on_snapshot: SnapshotFn | None = None,
        model_file: str = "model.joblib",  # in the storage dir; the runtime names it per mode
        models: ModelManager | None = None,  # given: the backtest's, held in memory only
    ) -> None:
        self.settings = settings
        self.exchange = exchange
        self.clock = clock
        self.store = store
        self.mode = mode
        self.on_snapshot = on_snapshot
        self.monitor = Monitor(settings.monitor.slow_operation_seconds)
        ml = settings.ml
        self.scan_cache: TimedCache[str, ScanResult] = TimedCache(
            1, settings.scan.cache_duration, clock.now
        )
        self.indicator_cache: IndicatorCache = BoundedCache(4096)
        self.prediction_cache: PredictionCache = TimedCache(
            ml.prediction_cache_size, ml.prediction_cache_duration, clock.now
        )
        self.groups = SymbolGroups()
        self.scanner = MarketScanner(
            exchange, _scan_options(settings), self.scan_cache, clock, self.monitor
        )
        self.signals = SignalGenerator(
            self.indicator_cache, self.prediction_cache, self.monitor, ml.cache_key_precision
        )
        self.executor = Executor(exchange, store, clock, self.monitor, self.alert)
        if models is None:
            models = ModelManager(
                store,
                trainer,
                settings.storage_dir / model_file,
                clock,
                self.alert,
                ml.model,
                ml.max_samples_in_memory,
                ml.saved_samples,
            )
        self.models = models
        self.rules = exit_rules(settings, timeframe_seconds(settings.scan.timeframe))
        self.models.set_rules(self.rules, settings.risk.min_probability)
        self.live = LiveRecord(self.rules, settings.risk.min_probability, refresh_rows=LIVE_REFRESH)
        self._blocking = False  # ml.require_edge keeps the bot out of new positions
        self._totals = TradeTotals(*store.trade_totals())
        recent = (  # newest first
            Alert(time, AlertLevel(level), source, message)
            for time, level, source, message in store.recent_alerts(20)
        )
        self.alerts: deque[Alert] = deque(recent, maxlen=100)  # the pane survives a restart
        self.paused = False
        self.phase: str | None = None
        self.next_cycle_at: float | None = None
        self.peak = store.peak_equity() or 0.0
        history = store.equity_history(EQUITY_HISTORY)  # then kept here: no query per snapshot
        self.equity_history: deque[float] = deque(history, maxlen=EQUITY_HISTORY)
        self.equity = history[-1] if history else 0.0  # the last known until a balance is read
        self.cash = 0.0  # free stake currency
        self._last_cash = 0.0  # total stake currency in the last good balance
        self.drawdown = drawdown_pct(self.equity, self.peak)
        self.balance_stale = False  # the last balance could not be read: equity is the last good
        self.holdings: tuple[Holding, ...] = ()  # coins outside the store: unmanaged, or dust
        self._holdings_alerted: dict[str, float] = {}  # asset -> amount last alerted
        self.prices: dict[str, float] = {}
        self.prices_stale = False  # the last fetch_tickers failed: prices are the last known
        self._tickers: dict[str, Any] | None = None  # fetched by update_positions, for the scan
        self._last_balance: dict[str, Any] | None = None  # the last good fetch_balance
        self._balance_read: Any = NOT_READ  # this cycle's prefetch: a balance, or its error
        self._balance_changed = True  # an order may have moved the balance since the last read
        self.budget: RequestBudget | None = getattr(exchange, "budget", None)
        self.requests: BudgetFigures | None = None  # the last cycle's, against the budget
        self.unconfirmed: set[str] = set()  # positions the exchange's balances do not confirm
        self.kill_switch = False
        self.storage_problem: str | None = None  # the store cannot write: no new positions
        self.bootstrapped = False  # start() trained a model from candle history
        self._state = _CycleState(cycle=int(store.get_state("cycle", "0") or 0))
        self._commands: queue.SimpleQueue[cmd.Command] = queue.SimpleQueue()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = False
        self._retrain = False
        self._close_requests: list[str] = []
        self._checked_at: float | None = None  # the last update_positions that read prices
        # pnl % of the last trades, newest first
        self._pnls: deque[float] = deque(maxlen=PNL_TRADES)
        self._pnls_through: int | None = None  # the last trade id in _pnls

    # -- control, from any thread ----------------------------------------------------------
    def submit(self, command: cmd.Command) -> None:
        self._commands.put(command)
        if self._loop is not None and self._wake is not None:
            # RuntimeError: the engine's loop has closed, so there is nothing left to wake
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._wake.set)

    def request_stop(self) -> None:
        self.submit(cmd.Stop())

    @property
    def stopping(self) -> bool:
        return self._stop

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        try:
            await self._reconcile_orders()
            await self._check_account()
        except ExchangeError as e:  # keep running: pending orders are reconciled every cycle
            self._exchange_failed("start", e)
        if not self.models.load():
            try:
                await self._bootstrap_model()
            except ExchangeError as e:  # no history now: ml_training tries again later
                self._exchange_failed("model", e)
        self._publish()

    async def close(self) -> None:
        try:
            self.models.persist_samples()
            self.store.set_state("clock_time", self.clock.now())
        except StorageError as e:  # what was committed before stays; say what was not saved
            log.error("could not save the samples and clock on exit: %s", e)

    async def run(
        self,
        cycles: int | None = None,
        on_cycle: Callable[[Snapshot], Awaitable[None] | None] | None = None,
    ) -> None:
        """Run cycles every check_interval until `cycles` are done or a Stop arrives."""
        done = 0
        while cycles is None or done < cycles:
            self._drain_commands()
            if self._stop:
                break
            if not self._due():
                await self._wait(None if self.paused else self.next_cycle_at)
                continue
            start = self.clock.now()
            snapshot = await self.run_cycle()
            done += 1
            if on_cycle is not None:
                result = on_cycle(snapshot)
                if asyncio.iscoroutine(result):
                    await result
            self.next_cycle_at = start + self.settings.bot.check_interval
            self._publish()

    def _due(self) -> bool:
        """A cycle is due when its time has come (or a scan was asked for) and we are not paused."""
        if self._state.force_scan:
            return True
        if self.paused:
            return False
        return self.next_cycle_at is None or self.clock.now() >= self.next_cycle_at

    async def _wait(self, until: float | None) -> None:
        """Sleep on the engine clock until `until`, waking early for commands."""
        assert self._wake is not None
        self._wake.clear()
        if not self._commands.empty():
            return
        tasks: set[asyncio.Future[object]] = {asyncio.ensure_future(self._wake.wait())}
        if until is not None:
            tasks.add(asyncio.ensure_future(self.clock.sleep(until - self.clock.now())))
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()

    def _drain_commands(self) -> None:
        if self._commands.empty():
            return
        while not self._commands.empty():
            command = self._commands.get_nowait()
            match command:
                case cmd.Pause():
                    self.paused = True
                case cmd.Resume():
                    self.paused = False
                case cmd.ScanNow():
                    self._state.force_scan = True
                case cmd.RetrainNow():
                    self._retrain = True
                case cmd.ClosePosition(symbol=symbol):
                    self._close_requests.append(symbol)
                case cmd.ApplySettings(settings=settings):
                    self.apply_settings(settings)
                case cmd.Stop():
                    self._stop = True
        self._publish()

    def apply_settings(self, settings: Settings) -> None:
        """Take new settings without a restart; caches keep their counters."""
        self.settings = settings
        self.scanner.options = _scan_options(settings)
        self.scan_cache.reconfigure(1, settings.scan.cache_duration)
        ml = settings.ml
        self.prediction_cache.reconfigure(ml.prediction_cache_size, ml.prediction_cache_duration)
        self.signals.precision = ml.cache_key_precision
        self.rules = exit_rules(settings, timeframe_seconds(settings.scan.timeframe))
        self.models.set_rules(self.rules, settings.risk.min_probability)
        self.live.set_rules(self.rules, settings.risk.min_probability)
        self.monitor.slow_seconds = settings.monitor.slow_operation_seconds
        self.alert(AlertLevel.INFO, "settings", "settings applied")

    # -- the cycle ---------------------------------------------------------------------------
    async def run_cycle(self) -> Snapshot:
        await self.step()
        snapshot = self.snapshot()
        self._emit(snapshot)
        return snapshot

    async def step(self) -> None:
        """One cycle without a snapshot: the backtest's, where nobody looks at one."""
        self._drain_commands()  # e.g. a scan asked for before this cycle is this cycle's
        state = self._state
        state.cycle = self._next_cycle()
        self._retry_storage()
        state.phases = dict.fromkeys(PHASES)
        state.orders_placed = 0
        self.next_cycle_at = None
        with self.monitor.time("cycle"):
            for name, phase in self._phases(state.cycle):
                if self._stop and name != "update_positions":
                    break
                await self._run_phase(name, phase)
                self._drain_commands()
        self.phase = None
        self._take_requests()
        self._raise_slow_alerts()
        with contextlib.suppress(StorageError):  # said already; saved again next cycle
            self.store.set_state("clock_time", self.clock.now())

    def _take_requests(self) -> None:
        """The cycle's request weight and its wait on the rate limiter (real exchanges)."""
        if self.budget is not None:
            self.requests = self.budget.take_cycle()
            self.monitor.record("exchange.limiter_wait", self.requests.waited_seconds)

    @property
    def last_signals(self) -> Signals | None:
        """What the signal phase of the last cycle produced (None if it failed or did not run)."""
        return self._state.signals

    async def close_all(self, reason: ExitReason) -> None:
        """Close every open position now, as a cycle of its own (its own order ids), then mark
        the equity: the backtest's end of data."""
        self._state.cycle = self._next_cycle()
        for position in self.store.positions():
            await self._close(position, reason)
        await self._mark_equity()

    def _phases(self, cycle: int) -> list[tuple[str, Callable[[], Awaitable[None]]]]:
        phases: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("update_positions", self.update_positions),
            ("market_scan", self.market_scan),
            ("signal_generation", self.signal_generation),
            ("risk_management", self.risk_management),
            ("execute_trades", self.execute_trades),
        ]
        if self._retrain or self.models.due(self.settings.ml.training_interval_hours):
            phases.append(("ml_training", self.ml_training))
        if cycle % self.settings.monitor.report_every_cycles == 0:
            phases.append(("performance_monitoring", self.performance_monitoring))
        return phases

    async def _run_phase(self, name: str, phase: Callable[[], Awaitable[None]]) -> None:
        self.phase = name
        self._publish()
        try:
            with self.monitor.time(f"phase.{name}"):
                await phase()
        except ExchangeError as e:
            self._exchange_failed(name, e)
        except StorageError as e:
            self._storage_failed(e)
        except Exception as e:  # a bug must not stop trading loop or UI
            log.exception("phase %s failed", name)
            self.alert(AlertLevel.ERROR, name, f"{type(e).__name__}: {e}")
        # no snapshot here: the next phase publishes one as it starts, run_cycle after the last
        self._state.phases[name] = self.monitor.last(f"phase.{name}")

    def _next_cycle(self) -> int:
        """The next cycle number, persisted; counted on in memory while the store cannot write."""
        try:
            return self.store.next_cycle(self._state.cycle)
        except StorageError as e:
            self._storage_failed(e)
            return self._state.cycle + 1

    def _storage_failed(self, e: StorageError) -> None:
        """A write failed (a full disk): what was committed stays. No new positions until the
        store can write again (orders are recorded before they are sent, so none goes out
        unrecorded); said once."""
        if self.storage_problem is not None:
            return
        self.storage_problem = str(e)
        self.alert(AlertLevel.ERROR, "storage", f"{e}; no new positions until it can write again")

    def _retry_storage(self) -> None:
        """While the store cannot write, try once a cycle whether it has room again."""
        if self.storage_problem is None:
            return
        try:
            self.store.probe_space()
        except StorageError:
            return
        self.storage_problem = None
        self.alert(AlertLevel.INFO, "storage", "the database can be written again: trading resumes")

    def _exchange_failed(self, source: str, e: ExchangeError) -> None:
        if isinstance(e, AuthenticationError):
            self.executor.trading_blocked = "check your API key"
            self.alert(AlertLevel.ERROR, source, f"authentication failed: check your API key ({e})")
        elif isinstance(e, ClockSkew):  # its message names the offset and what to do
            self.alert(AlertLevel.ERROR, source, str(e))
        else:
            self.alert(AlertLevel.ERROR, source, f"exchange unavailable: {e}")

    async def _check_account(self) -> None:
        """Balances against the store, in every mode: unconfirmed positions, unmanaged coins,
        and a lost database said plainly. Cheap enough to run again at any time."""
        stake = self.settings.bot.stake_currency
        check = await reconcile_account(
            self.exchange, self.store, stake, self.alert, await self.scanner.markets(),
            self.store.dust(),  # the bot's own dust is known, not unmanaged
        )  # fmt: skip
        self.unconfirmed = check.unconfirmed
        self.prices = {**check.prices, **self.prices}
        unmanaged = [h for h in check.holdings if not h.dust]
        notice = lost_store_notice(self.store, self.exchange, self.mode, unmanaged, stake)
        if notice is not None:
            self.alert(AlertLevel.ERROR, "reconcile", notice)
        self._take_holdings(check.holdings)

    def _take_holdings(self, holdings: tuple[Holding, ...]) -> None:
        """Keep the coins found outside the store; alert those that are new or grew, once."""
        stake = self.settings.bot.stake_currency
        fresh = [
            h
            for h in holdings
            if h.amount > self._holdings_alerted.get(h.asset, 0.0) * (1 + 1e-6) + 1e-12
        ]
        new_unmanaged = [h for h in fresh if not h.dust]
        new_dust = [h for h in fresh if h.dust]
        if new_unmanaged:
            coins = ", ".join(h.describe(stake) for h in new_unmanaged)
            self.alert(
                AlertLevel.WARNING,
                "reconcile",
                f"unmanaged: {coins}: on the exchange but not in the bot's database "
                f"{self.store.path}; shown beside equity, never counted in it or traded by the "
                "bot (sell them by hand, or restore the database they belong to)",
            )
        if new_dust:
            coins = ", ".join(h.describe(stake) for h in new_dust)
            self.alert(AlertLevel.INFO, "reconcile", f"dust (below the minimum order): {coins}")
        gone = sorted(set(self._holdings_alerted) - {h.asset for h in holdings})
        if gone:
            self.alert(
                AlertLevel.INFO, "reconcile", f"no longer held outside the bot: {', '.join(gone)}"
            )
        self._holdings_alerted = {h.asset: h.amount for h in holdings}
        self.holdings = holdings

    async def _reconcile_orders(self) -> None:
        for result in await self.executor.reconcile():
            self._balance_changed = True
            self.alert(
                AlertLevel.INFO, "executor", f"reconciled {result.client_order_id}: {result.status}"
            )

    async def update_positions(self) -> None:
        """Prices for the exits, and the balance for equity, at the least request weight: the
        all-symbols ticker only when a scan is due this cycle (it is then the scan's too), else
        the open positions' tickers only (none without positions); the balance alongside them,
        re-read only when it can have changed (see _balance_due)."""
        self._tickers = None
        scan_due = self.scanner.scan_due(self._state.force_scan)
        try:
            await self._reconcile_orders()
            positions = self.store.positions()
            wanted = None if scan_due else [p.symbol for p in positions]
            tickers, self._balance_read = await asyncio.gather(
                self._read_tickers(wanted), self._prefetch_balance(scan_due)
            )
        except ExchangeError:  # degrade: last known prices, marked stale; no exits on them
            self.prices_stale = True
            raise
        fresh = {s: float(t["last"]) for s, t in tickers.items() if t.get("last")}
        if scan_due:
            self._tickers = tickers  # the scan's too: the all-symbols ticker once a cycle
            self.prices = fresh
        else:
            self.prices = {**self.prices, **fresh}
        self.prices_stale = False
        now = self.clock.now()
        ranges = self._price_ranges([p.symbol for p in positions], now)
        max_hold = self.settings.risk.max_hold_minutes * 60
        for position in positions:
            last = self.prices.get(position.symbol)
            reason = ExitReason.MANUAL if position.symbol in self._close_requests else None
            if reason is None and position.symbol in self.unconfirmed:
                continue  # the exchange does not hold it: the user has to look first
            if reason is None and last is not None:
                low, high = ranges.get(position.symbol) or (None, None)
                reason = exit_reason(position, last, now, max_hold, low, high)
            if reason is not None:
                await self._close(position, reason)
        self._close_requests.clear()
        await self._mark_equity()

    async def _read_tickers(self, symbols: list[str] | None) -> dict[str, Any]:
        """All tickers (None) or those of `symbols`; nothing is sent for no symbols."""
        if symbols is not None and not symbols:
            return {}
        with self.monitor.time("exchange.fetch_tickers"):
            return await self.exchange.fetch_tickers(symbols)

    def _balance_due(self, scan_due: bool) -> bool:
        """Whether the balance must be read again. A venue in this process (simulator, paper,
        backtest) is read every cycle, at no cost; a live exchange only when it can have
        changed: never read, an order or a reconciled order since, the last read failed, or
        once a scan (the scan cache's duration) for what happens outside the bot."""
        if self.mode != Mode.LIVE:
            return True
        return (
            self._last_balance is None or self._balance_changed or scan_due or (self.balance_stale)
        )

    async def _prefetch_balance(self, scan_due: bool) -> Any:
        """The balance read alongside the tickers when one is due (NOT_READ when not), or the
        error reading it gave: _mark_equity deals with it."""
        if not self._balance_due(scan_due):
            return NOT_READ
        self._balance_changed = False
        try:
            with self.monitor.time("exchange.fetch_balance"):
                return await self.exchange.fetch_balance()
        except ExchangeError as e:
            return e

    async def _balance(self) -> Any:
        """This cycle's balance: the one read alongside the tickers unless an order went out
        since, else a new read; the last good one when none is due."""
        read, self._balance_read = self._balance_read, NOT_READ
        if read is NOT_READ and (self._balance_changed or self._last_balance is None):
            self._balance_changed = False
            with self.monitor.time("exchange.fetch_balance"):
                read = await self.exchange.fetch_balance()
        if isinstance(read, ExchangeError):
            raise read
        if read is NOT_READ:
            return self._last_balance
        self._last_balance = read
        return read

    def _price_ranges(self, symbols: list[str], now: float) -> dict[str, tuple[float, float]]:
        """(low, high) per symbol over the candles that closed since the last check, from a
        venue that knows them (the backtest's); none from the others (their last price only)."""
        since, self._checked_at = self._checked_at, now
        price_ranges = getattr(self.exchange, "price_ranges", None)
        if price_ranges is None or since is None or not symbols:
            return {}
        ranges: dict[str, tuple[float, float]] = price_ranges(symbols, round(since * 1000))
        return ranges

    async def _close(self, position: PositionRow, reason: ExitReason) -> None:
        self._balance_changed = True  # whatever the outcome: an unknown one may have filled
        self._balance_read = NOT_READ
        result = await self.executor.close_position(self._state.cycle, position, reason)
        if result.status == "filled":
            self._state.orders_placed += 1
        if result.trade is not None:
            pnl = result.trade.pnl
            t = self._totals
            self._totals = TradeTotals(t.trades + 1, t.wins + (pnl > 0), t.net_pnl + pnl)
            self.models.add_trade(position.features, result.trade.pnl_pct / 100, self.clock.now())
            note = f"; {result.note}" if result.note else ""  # e.g. the dust the sell left
            self.alert(
                AlertLevel.INFO,
                "trade",
                f"closed {position.symbol} ({reason}) {result.trade.pnl_pct:+.2f}%{note}",
            )

    async def _mark_equity(self) -> None:
        """Equity from a fresh balance; one that cannot be read leaves the last good equity,
        marked stale: no equity point, no drawdown and no kill switch from it."""
        stake = self.settings.bot.stake_currency
        positions = self.store.positions()
        try:
            balance = await self._balance()
            # an answer with no currency at all is garbled when we know there is something
            held = bool(positions or self.holdings or self._last_cash)
            cash, self.cash = read_stake(balance, stake, holding=held)
        except ExchangeError as e:
            self._balance_unreadable(e)
            if isinstance(e, AuthenticationError):
                raise  # blocks trading, as anywhere else
            return
        if self.balance_stale:
            self.balance_stale = False
            self.alert(AlertLevel.INFO, "balance", "balance readable again: equity is current")
        totals = account_totals(balance)
        if totals.keys() - {stake} or self.holdings:  # only then anything can be outside
            markets = await self.scanner.markets()
            bot_dust = self.store.dust()
            self._take_holdings(
                outside_store(totals, positions, bot_dust, stake, markets, self.prices)
            )
        self._last_cash = cash
        # unmanaged coins are not the bot's: counting them would size trades and fire the kill
        # switch on coins the user holds for other reasons
        self.equity = cash + market_value(positions, self.prices)
        self.peak = max(self.peak, self.equity)
        self.drawdown = drawdown_pct(self.equity, self.peak)
        self.store.add_equity(self.clock.now(), self._state.cycle, self.equity, self.drawdown)
        self.equity_history.append(self.equity)
        was_killed = self.kill_switch
        self.kill_switch = self.drawdown >= self.settings.risk.max_drawdown_pct
        if self.kill_switch and not was_killed:
            self.alert(
                AlertLevel.ERROR,
                "risk",
                f"drawdown {self.drawdown:.1f}% reached the limit: no new positions",
            )

    def _balance_unreadable(self, e: ExchangeError) -> None:
        if self.balance_stale:
            return  # said once, when it went stale
        self.balance_stale = True
        money = f"{self.equity:,.2f} {self.settings.bot.stake_currency}"
        kept = f"kept at the last good {money}" if self.equity_history else "not known yet"
        serious = isinstance(e, ClockSkew | AuthenticationError)
        self.alert(
            AlertLevel.ERROR if serious else AlertLevel.WARNING,
            "balance",
            f"balance unreadable, equity {kept} and marked stale, no new positions until it "
            f"reads again: {e}",
        )

    async def market_scan(self) -> None:
        force, self._state.force_scan = self._state.force_scan, False
        tickers, self._tickers = self._tickers, None
        self._state.scan = await self.scanner.scan(force=force, tickers=tickers)
        for symbol, error in self._state.scan.failed.items():
            self.alert(AlertLevel.WARNING, "market_scan", f"{symbol}: {error}")

    async def signal_generation(self) -> None:
        self._state.signals = None  # should this fail, the last cycle's signals must not be used
        scan = self._state.scan
        if scan is None:
            return
        signals = self._state.signals = self.signals.generate(scan, self.models.model)
        self._record_predictions(scan, signals)

    def _record_predictions(self, scan: ScanResult, signals: Signals) -> None:
        """Every prediction goes to the live record; those whose horizon has passed are scored
        and, unless a trade already brings its own outcome, become training samples."""
        untraded = [row for row in self.live.resolve(scan.candles) if not row.traded]
        self.models.add_outcomes(untraded, self.rules.timeframe_seconds)
        signal_ms = [int(scan.candles[s][-1, 0]) for s in signals.symbols]
        self.live.record(
            self.clock.now(), signals.symbols, signal_ms, signals.probabilities, signals.features
        )

    async def risk_management(self) -> None:
        self._state.opportunities = ()  # should this fail, nothing is bought on old decisions
        signals = self._state.signals
        if signals is None or np.isnan(signals.probabilities).all():
            return
        candidates = [
            Candidate(s, float(p), float(p))
            for s, p in zip(signals.symbols, signals.probabilities.tolist(), strict=True)
        ]
        risk = self.settings.risk
        default_ratio = risk.take_profit_pct / risk.stop_loss_pct
        no_edge = self._edge_block()
        pnls = self._recent_pnls()
        opportunities = evaluate(
            candidates,
            [p.symbol for p in self.store.positions()],
            self.groups,
            self.equity,
            self.cash,
            self.drawdown,
            win_loss_ratio(pnls, default_ratio),
            _limits(self.settings),
            blocked=self.executor.trading_blocked
            or ("balance unreadable" if self.balance_stale else None)
            or ("the database cannot be written" if self.storage_problem else None)
            or no_edge,
        )
        self._state.opportunities = tuple(opportunities)

    def edge(self) -> Edge:
        return model_edge(self.models.model, self.live.figures())

    def _edge_block(self) -> str | None:
        """The reason no position may open while ml.require_edge is on and the model has not
        shown an edge; said in Alerts when it starts and when it ends."""
        if not self.settings.ml.require_edge and not self._blocking:
            return None  # the gate is off: no verdict to look at (its interval is a bootstrap)
        edge = self.edge()
        blocking = self.settings.ml.require_edge and not edge.shown
        if blocking != self._blocking:
            self._blocking = blocking
            if blocking:
                self.alert(
                    AlertLevel.WARNING,
                    "model",
                    f"no new positions: {block_reason(edge)} ({edge.verdict}: {edge.reason}); "
                    "exits keep working (ml.require_edge)",
                )
            else:
                self.alert(AlertLevel.INFO, "model", f"new positions allowed again: {edge.reason}")
        return block_reason(edge) if blocking else None

    def _recent_pnls(self) -> deque[float]:
        """The last PNL_TRADES trades' pnl %, newest first; only the trades added since the last
        call are read."""
        last = self.store.last_trade_id()
        if last != self._pnls_through:
            added = self.store.trades(PNL_TRADES, after_id=self._pnls_through)  # newest first
            self._pnls.extendleft(t.pnl_pct for t in reversed(added))

            self._pnls_through = last
        return self._pnls

    async def execute_trades(self) -> None:
        signals, scan = self._state.signals, self._state.scan
        if signals is None or scan is None:  # no signals without a scan
            return
        index = {s: i for i, s in enumerate(signals.symbols)}
        markets = await self.scanner.markets()
        pending = {order.symbol for order in self.store.pending_orders()}
        for opp in self._state.opportunities:
            if not opp.approved or opp.symbol in pending:  # unresolved order: never a second one
                continue
            i = index[opp.symbol]
            price = self.prices.get(opp.symbol, float(signals.prices[i]))
            amount = round_amount(opp.size_quote / price, markets.get(opp.symbol))
            if amount <= 0:
                continue
            context = {
                "group": opp.group,
                "probability": opp.probability,
                "features": signals.features[i].tolist(),
                "sl_pct": self.settings.risk.stop_loss_pct,
                "tp_pct": self.settings.risk.take_profit_pct,
            }
            self._balance_changed = True  # read again next cycle, whatever the outcome
            result = await self.executor.open_position(
                self._state.cycle, opp.symbol, amount, context, price=price
            )
            if result.status == "filled":
                self._state.orders_placed += 1
                self.live.mark_traded(opp.symbol, int(scan.candles[opp.symbol][-1, 0]))

    async def ml_training(self) -> None:
        self._retrain = False
        if self.models.model is None and len(self.models.samples) < BOOTSTRAP_SAMPLES:
            await self._add_history()  # the bootstrap at start found no history
        model = await self.models.train()
        if model is not None:
            self.prediction_cache.clear()
            edge = self.edge()
            self.alert(
                AlertLevel.INFO,
                "model",
                f"trained on {model.metrics.samples} samples: {edge.verdict} ({edge.reason})",
            )

    async def performance_monitoring(self) -> None:
        if not log.isEnabledFor(logging.INFO):
            return  # the report is costly to format, and nobody would read it
        samples = self.models.samples
        log.info(
            "performance report (cycle %d)\n%s\nsamples: %d held, %d bytes in memory, "
            "%d bytes on disk",
            self._state.cycle,
            self.monitor.report(),
            len(samples),
            samples.nbytes,
            self.models.saved_bytes,
        )

    async def _bootstrap_model(self) -> None:
        """No usable model: train one from candle history so predictions exist from cycle one."""
        with self.monitor.time("ml.bootstrap"):
            if len(self.models.samples) < BOOTSTRAP_SAMPLES:
                await self._add_history()
            # a trainer may name a cheaper one for this first model (ProcessTrainer: a thread)
            trainer = getattr(self.models.trainer, "bootstrap_trainer", None)
            self.bootstrapped = await self.models.train(trainer) is not None

    async def _add_history(self) -> None:
        _, top = await self.scanner.top_markets()
        history = await self.scanner.fetch_history(top, HISTORY_CANDLES)
        self.scanner.hold(history)  # the first scans fetch only newer candles
        added = self.models.add_history(list(history.values()))
        self.alert(AlertLevel.INFO, "model", f"bootstrap: {added} samples from candle history")

    # -- output ------------------------------------------------------------------------------
    def alert(self, level: AlertLevel, source: str, message: str) -> None:
        message = redact(message)
        now = self.clock.now()
        self.alerts.appendleft(Alert(now, level, source, message))
        try:
            self.store.add_alert(now, level, source, message)
        except StorageError as e:  # shown and logged all the same; an alert must never raise
            self._storage_failed(e)
        log.log(
            logging.WARNING if level != AlertLevel.INFO else logging.INFO, "%s: %s", source, message
        )

    def _raise_slow_alerts(self) -> None:
        for operation, seconds in self.monitor.take_slow():
            self.alert(AlertLevel.WARNING, "monitor", f"slow operation {operation}: {seconds:.2f}s")

    @cached_property
    def dashboard_data(self) -> DashboardData:
        return DashboardData(self.store)

    def snapshot(self) -> Snapshot:
        now = self.clock.now()
        model = self.models.model
        dashboard = self.dashboard_data.parts(now, self.prices, self._state.scan)
        positions = tuple(
            view(p, self.prices.get(p.symbol), now, self.prices_stale)
            for p in self.store.positions()
        )
        return Snapshot(
            cycle=self._state.cycle,
            time=now,
            mode=self.mode,
            exchange=self.exchange.id,
            equity=self.equity,
            drawdown_pct=self.drawdown,
            phases=dict(self._state.phases),
            caches={
                "market_scan": self.scan_cache.stats(),
                "indicators": self.indicator_cache.stats(),
                "ml_prediction": self.prediction_cache.stats(),
                "symbol_group": self.groups.cache.stats(),
            },
            positions=positions,
            opportunities=self._state.opportunities,
            orders_placed=self._state.orders_placed,
            alerts=tuple(islice(self.alerts, 20)),
            timings=self.monitor.stats(),
            model=model_info(
                model,
                len(self.models.samples),
                self.models.samples.nbytes,
                self.models.saved_bytes,
                self.models.label,
                self.live.figures(),
                self.edge(),
                self._totals,
                self._blocking,
            ),
            phase=self.phase,
            paused=self.paused,
            next_cycle_at=self.next_cycle_at,
            kill_switch=self.kill_switch,
            equity_history=tuple(self.equity_history),
            balance_stale=self.balance_stale,
            requests=self.requests,
            unmanaged=tuple(self._unmanaged_views()),
            trades=dashboard.trades,
            performance=dashboard.performance,
            candles=dashboard.candles,
            price_lines=dashboard.price_lines,
        )

    def _unmanaged_views(self) -> list[UnmanagedView]:
        views = []
        for h in self.holdings:
            if h.dust:
                continue
            price = self.prices.get(h.symbol, h.price) if h.symbol else None
            value = None if price is None else h.amount * price
            views.append(UnmanagedView(h.asset, h.amount, h.symbol, price, value))
        return views

    def _publish(self) -> None:
        if self.on_snapshot is not None:
            self._emit(self.snapshot())

    def _emit(self, snapshot: Snapshot) -> None:
        if self.on_snapshot is not None:
            self.on_snapshot(snapshot)


def _scan_options(settings: Settings) -> ScanOptions:
    return ScanOptions(
        top_n=settings.scan.top_n,
        candles=settings.scan.candles,
        timeframe=settings.scan.timeframe,
        max_parallel_workers=settings.scan.max_parallel_workers,
        stake_currency=settings.bot.stake_currency,
        whitelist=market_patterns(settings.exchange.whitelist),
        blacklist=market_patterns(settings.exchange.blacklist),
        min_quote_volume=settings.exchange.min_quote_volume_24h,
    )


def _limits(settings: Settings) -> RiskLimits:
    r = settings.risk
    return RiskLimits(
        max_open_positions=settings.bot.max_open_positions,
        max_per_group=r.max_per_group,
        max_position_pct=r.max_position_pct,
        kelly_fraction=r.kelly_fraction,
        max_drawdown_pct=r.max_drawdown_pct,
        min_probability=r.min_probability,
    )
