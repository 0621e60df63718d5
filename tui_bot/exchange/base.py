"""The async exchange protocol the engine uses: ccxt's unified method names and shapes."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, Protocol

Market = dict[str, Any]
Ticker = dict[str, Any]
Order = dict[str, Any]
Candle = list[float]  # [timestamp_ms, open, high, low, close, volume]


class OrderStatus(StrEnum):
    """An order's status on an exchange, as ccxt spells it (a member equals its string)."""

    OPEN = "open"
    CLOSED = "closed"  # filled in full
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"


class AlertLevel(StrEnum):
    """How loud an alert is. Here because the exchange layer raises alerts too (the real
    exchange's rate limits); the engine uses the same enum."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


AlertFn = Callable[[AlertLevel, str, str], None]  # level, source, message


class Exchange(Protocol):
    id: str

    async def load_markets(self) -> dict[str, Market]: ...

    async def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, Ticker]: ...

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "5m", since: int | None = None, limit: int | None = None
    ) -> list[Candle]: ...

    async def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> Order: ...

    async def fetch_order(
        self, id: str | None, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> Order: ...

    async def fetch_open_orders(self, symbol: str | None = None) -> list[Order]: ...

    async def cancel_order(self, id: str, symbol: str | None = None) -> Order: ...

    async def fetch_balance(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...


TIMEFRAME_SECONDS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400}


def timeframe_seconds(timeframe: str) -> int:
    try:
        return TIMEFRAME_SECONDS[timeframe]
    except KeyError:
        allowed = ", ".join(TIMEFRAME_SECONDS)
        raise ValueError(f"unknown timeframe {timeframe!r}; use one of {allowed}") from None


def spot_market(
    base: str,
    quote: str,
    fee_rate: float,
    amount_step: float,
    price_tick: float,
    min_amount: float | None,
    min_price: float | None,
    min_cost: float,
    info: dict[str, Any] | None = None,
) -> Market:
    """A spot market in ccxt's unified shape (TICK_SIZE precision), for the embedded venues."""
    return {
        "id": f"{base}{quote}",
        "symbol": f"{base}/{quote}",
        "base": base,
        "quote": quote,
        "baseId": base,
        "quoteId": quote,
        "active": True,
        "type": "spot",
        "spot": True,
        "margin": False,
        "swap": False,
        "future": False,
        "contract": False,
        "precision": {"amount": amount_step, "price": price_tick},
        "limits": {
            "amount": {"min": min_amount, "max": None},
            "price": {"min": min_price, "max": None},
            "cost": {"min": min_cost, "max": None},
        },
        "taker": fee_rate,
        "maker": fee_rate,
        "percentage": True,
        "tierBased": False,
        "info": info or {},
    }
