"""The backtest venue: recorded candles replayed at a jumping clock, ccxt-shaped.

Prices come from a CandleSource asked at this venue's clock, so nothing shown or filled comes
from a candle that had not closed by then. A market order fills at once, whole, at the open of
the candle starting now (`trade_price`) moved by `slippage_bps` against the order, with
`fee_pct` per side in the quote currency; no price now (a gap, the end of the data) refuses it.
Balances and orders live in an in-memory Ledger. No latency, no rate limit, no faults.

Every call is O(log n) binary searches plus O(rows returned): a backtest makes thousands.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from tui_bot.clock import Clock
from tui_bot.exchange.base import Candle, Market, Order, OrderStatus, Ticker, spot_market
from tui_bot.exchange.errors import ExchangeError, InvalidOrder, OrderNotFound
from tui_bot.exchange.ledger import Ledger, check_order_args, fill_price, iso8601
from tui_bot.market.source import ROW_CLOSE, ROW_HIGH, ROW_LOW, ROW_OPEN, ROW_VOLUME, CandleSource

__all__ = ["BacktestExchange"]

DEFAULT_OHLCV_LIMIT = 500
MAX_OHLCV_LIMIT = 1000
PRECISION = 1e-8  # amount and price step of every market
DAY_MS = 86_400_000


class BacktestExchange:
    """One spot market per source symbol ("ADA/BTC"), filled from the source's prices."""

    id = "backtest"

    def __init__(
        self,
        source: CandleSource,
        clock: Clock,
        stake_currency: str,
        starting_balance: float,
        fee_pct: float = 0.1,
        slippage_bps: float = 5.0,
    ) -> None:
        self.source = source
        self.clock = clock
        self.stake_currency = stake_currency
        self.fee_rate = fee_pct / 100.0
        self.slippage = slippage_bps / 10_000.0
        self._day_candles = max(1, DAY_MS // source.tf_ms)
        self._markets = {s: self._market(s) for s in source.symbols()}
        self._ledger = Ledger(
            name="backtest",
            info={},
            clock=clock,
            path=None,
            starting_balance=starting_balance,
            stake_currency=stake_currency,
        )

    @property
    def ledger(self) -> Ledger:
        """The account, for reading only."""
        return self._ledger

    def _now_ms(self) -> int:
        return int(round(self.clock.now() * 1000))

    def _market(self, symbol: str) -> Market:
        base, quote = symbol.split("/")
        return spot_market(base, quote, self.fee_rate, PRECISION, PRECISION, None, None, 0.0)

    def _known(self, symbol: str) -> Market:
        market = self._markets.get(symbol)
        if market is None:
            raise ExchangeError(f"backtest: unknown symbol {symbol!r}")
        return market

    # -- market data ------------------------------------------------------------------------

    async def load_markets(self) -> dict[str, Market]:
        """The venue's own markets, not a copy (as ccxt hands out its own): read them, never
        change them. The executor asks for them on every order."""
        return self._markets

    async def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, Ticker]:
        """Tickers from the last day of closed candles; a symbol with none yet has no ticker."""
        wanted = list(self._markets) if symbols is None else symbols
        now = self._now_ms()
        stamp = (now, iso8601(now))
        tickers = {}
        for symbol in wanted:
            self._known(symbol)
            day = self.source.closed(symbol, now, limit=self._day_candles)
            if len(day):
                tickers[symbol] = _ticker(symbol, day, stamp)
        return tickers

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "5m", since: int | None = None, limit: int | None = None
    ) -> list[Candle]:
        self._known(symbol)
        if timeframe != self.source.timeframe:
            raise ExchangeError(
                f"backtest: timeframe {timeframe!r} not in the data;"
                f" it has {self.source.timeframe!r}"
            )
        limit = min(limit or DEFAULT_OHLCV_LIMIT, MAX_OHLCV_LIMIT)
        since_ms = None if since is None else int(since)
        rows = self.source.closed(symbol, self._now_ms(), limit=limit, since_ms=since_ms)
        return [[int(r[0]), r[1], r[2], r[3], r[4], r[5]] for r in rows.tolist()]

    def price_ranges(self, symbols: Sequence[str], since_ms: int) -> dict[str, tuple[float, float]]:
        """(low, high) over the candles that closed in (since_ms, now]; symbols without one are
        left out. What stop-losses and take-profits are checked against."""
        now = self._now_ms()
        first_open = int(since_ms) - self.source.tf_ms + 1  # closed after since_ms
        ranges = {}
        for symbol in symbols:
            rows = self.source.closed(symbol, now, since_ms=first_open)
            if len(rows):
                low, high = _MIN(rows[:, ROW_LOW]), _MAX(rows[:, ROW_HIGH])
                ranges[symbol] = (float(low), float(high))
        return ranges

    # -- trading ----------------------------------------------------------------------------

    async def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> Order:
        market = self._known(symbol)
        amount = float(amount)
        check_order_args("backtest", type, side, amount, price)
        if type != "market":
            raise InvalidOrder("backtest: only market orders are simulated")
        client_id = (params or {}).get("clientOrderId")
        self._ledger.refuse_duplicate(client_id)
        now = self._now_ms()
        trade_price = self.source.trade_price(symbol, now)
        if trade_price is None:
            raise InvalidOrder(
                f"backtest: no {symbol} candle opens at {iso8601(now)} (a gap or the end of "
                "the data): nothing to fill at"
            )
        price = fill_price(trade_price, side, self.slippage)  # as the model's labels assume
        cost = amount * price
        self._ledger.require_funds(market, side, amount, cost, self.fee_rate)
        order = self._ledger.new_order(market, "market", side, amount, None, client_id)
        fee = cost * self.fee_rate
        self._ledger.trade(market, side, amount, cost, fee)
        order.update(
            price=price,
            average=price,
            filled=amount,
            remaining=0.0,
            cost=cost,
            status=OrderStatus.CLOSED,
            lastTradeTimestamp=now,
            fee={"cost": fee, "currency": market["quote"]},
        )
        self._ledger.add(order)
        return copy.deepcopy(order)

    async def fetch_order(
        self, id: str | None, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> Order:
        order = self._ledger.find(id, symbol, params)
        if order is None:
            raise OrderNotFound(f"backtest: order not found (id={id!r}, params={params!r})")
        return copy.deepcopy(order)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]:
        return [copy.deepcopy(o) for o in self._ledger.open_orders(symbol)]

    async def cancel_order(self, id: str, symbol: str | None = None) -> Order:
        raise OrderNotFound(f"backtest: no open order {id!r} (market orders fill at once)")

    async def fetch_balance(self) -> dict[str, Any]:
        return self._ledger.balance()

    async def close(self) -> None:
        self._ledger.close()


_SUM, _MIN, _MAX = np.add.reduce, np.minimum.reduce, np.maximum.reduce  # no wrapper layers


def _ticker(symbol: str, day: np.ndarray, stamp: tuple[int, str]) -> Ticker:
    """A ccxt ticker from the last day of closed candles: last = the newest close."""
    last = float(day[-1, ROW_CLOSE])
    open_ = float(day[0, ROW_OPEN])
    volume = day[:, ROW_VOLUME]
    base_volume = float(_SUM(volume))
    quote_volume = float(np.dot(day[:, ROW_CLOSE], volume))
    return {
        "symbol": symbol,
        "timestamp": stamp[0],
        "datetime": stamp[1],
        "last": last,
        "close": last,
        "bid": last,
        "ask": last,
        "open": open_,
        "high": float(_MAX(day[:, ROW_HIGH])),
        "low": float(_MIN(day[:, ROW_LOW])),
        "change": last - open_,
        "percentage": (last / open_ - 1.0) * 100.0,
        "vwap": quote_volume / base_volume if base_volume else None,
        "baseVolume": base_volume,
        "quoteVolume": quote_volume,
        "info": {},
    }
