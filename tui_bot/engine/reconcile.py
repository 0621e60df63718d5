"""Compare what the store believes with what the exchange holds: at start in every mode, and the
cheap part (balances against positions) every cycle.

Pending orders are resolved by the executor (looked up by client order id). This checks the
rest: positions the exchange's balances do not confirm are flagged (an alert, and no automatic
exits on them) rather than silently dropped or sold; coins the exchange holds beyond the store's
positions are *unmanaged*: shown and alerted beside equity, never counted in it or traded
automatically (the bot does not know what they cost, or whose they are); holdings worth less
than the market's minimum order are dust, mentioned only. Open orders on the exchange that carry
our client order ids but that the store does not know as pending are reported. A bot's database
that is new while the exchange (simulated or paper) still holds this bot's fills is said plainly:
it was lost.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tui_bot.engine.executor import CLIENT_ID_PREFIX
from tui_bot.engine.words import AlertFn, AlertLevel, Mode
from tui_bot.exchange.base import Exchange, Market
from tui_bot.exchange.errors import NetworkError
from tui_bot.store import PositionRow, Store

VENUES = {Mode.SIMULATED: "the simulated exchange", Mode.PAPER: "the paper account"}


@dataclass(frozen=True)
class Holding:
    """Coins on the exchange beyond what the store's positions (and the bot's own dust) hold."""

    asset: str
    amount: float
    symbol: str | None  # asset/stake, when that market exists or has a price
    price: float | None
    dust: bool  # worth less than the market's minimum order

    @property
    def value(self) -> float | None:
        return None if self.price is None else self.amount * self.price

    def describe(self, stake: str) -> str:
        value = self.value
        worth = f" (~{value:,.2f} {stake})" if value is not None else " (no price)"
        return f"{self.amount:.8g} {self.asset}{worth}"


@dataclass(frozen=True)
class AccountCheck:
    unconfirmed: set[str]  # symbols of the store's positions the exchange does not confirm
    holdings: tuple[Holding, ...]  # unmanaged and dust
    prices: dict[str, float]


def _amount(value: Any) -> float | None:
    """A balance figure as a float, or None unless it is a finite number >= 0."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def account_totals(balance: Mapping[str, Any]) -> dict[str, float]:
    """Currency -> total held (> 0) in a ccxt balance."""
    totals = balance.get("total")
    if not isinstance(totals, Mapping):
        return {}
    out = {}
    for currency, total in totals.items():
        amount = _amount(total)
        if amount:
            out[str(currency)] = amount
    return out


def read_stake(balance: Any, stake: str, holding: bool) -> tuple[float, float]:
    """(total, free) of the stake currency in a ccxt balance.

    A NetworkError when the answer cannot be read: not a balance, a stake figure that is not a
    number >= 0, or no currency at all while we hold coins (an account with all of its stake in
    positions still lists the coins). A stake currency that is simply absent is 0.
    """
    if not isinstance(balance, Mapping):
        raise NetworkError(f"fetch_balance: the answer is not a balance ({_shown(balance)})")
    entry = balance.get(stake)
    if entry is None:
        if holding and not account_totals(balance):
            raise NetworkError("fetch_balance: the answer lists no currency, yet we hold coins")
        return 0.0, 0.0
    if not isinstance(entry, Mapping):
        raise NetworkError(f"fetch_balance: {stake} is {_shown(entry)}, not a balance entry")
    free = _amount(entry.get("free", 0.0) if entry.get("free") is not None else 0.0)
    total = entry.get("total")
    if total is None and free is not None:
        total = free + (_amount(entry.get("used") or 0.0) or 0.0)
    total = _amount(total)
    if total is None or free is None:
        shown = _shown(entry.get("total") if total is None else entry.get("free"))
        raise NetworkError(f"fetch_balance: {stake} balance {shown} is not a number >= 0")
    return total, free


def outside_store(
    totals: Mapping[str, float],
    positions: list[PositionRow],
    bot_dust: Mapping[str, float],
    stake: str,
    markets: Mapping[str, Market],
    prices: Mapping[str, float],
) -> tuple[Holding, ...]:
    """What the exchange holds beyond the store's positions and the bot's own dust."""
    known: dict[str, float] = {}
    for base, amount in [(p.symbol.split("/")[0], p.amount) for p in positions] + [
        (key.split("/")[0], amount) for key, amount in bot_dust.items()
    ]:
        known[base] = known.get(base, 0.0) + amount
    found = []
    for asset, total in sorted(totals.items()):
        extra = total - known.get(asset, 0.0)
        if asset == stake or extra <= max(1e-12, total * 1e-6):
            continue
        pair = f"{asset}/{stake}"
        market = markets.get(pair)
        price = prices.get(pair)
        symbol = None if market is None and price is None else pair
        found.append(Holding(asset, extra, symbol, price, _is_dust(extra, price, market)))
    return tuple(found)


def _is_dust(amount: float, price: float | None, market: Market | None) -> bool:
    limits = (market or {}).get("limits") or {}
    min_amount = _amount((limits.get("amount") or {}).get("min"))
    min_cost = _amount((limits.get("cost") or {}).get("min"))
    if min_amount and amount < min_amount:
        return True
    return bool(min_cost and price is not None and amount * price < min_cost)


async def reconcile_account(
    exchange: Exchange,
    store: Store,
    stake_currency: str,
    alert: AlertFn,
    markets: Mapping[str, Market],
    bot_dust: Mapping[str, float],
) -> AccountCheck:
    """The start check: balances against positions, our open orders, coins outside the store."""
    positions = store.positions()
    balance = await exchange.fetch_balance()
    _, free = read_stake(balance, stake_currency, holding=bool(positions))
    open_orders = await exchange.fetch_open_orders()
    tickers = await exchange.fetch_tickers()
    prices = {s: float(t["last"]) for s, t in tickers.items() if t.get("last")}
    totals = account_totals(balance)
    unconfirmed = _unconfirmed(totals, positions, alert)
    _report_stray_orders(open_orders, store, alert)
    holdings = outside_store(totals, positions, bot_dust, stake_currency, markets, prices)
    confirmed = len(positions) - len(unconfirmed)
    unmanaged = sum(not h.dust for h in holdings)
    alert(
        AlertLevel.INFO,
        "reconcile",
        f"account: {free:,.2f} {stake_currency} free, {len(open_orders)} open orders, "
        f"{confirmed} positions confirmed, {len(unconfirmed)} not, {unmanaged} coins unmanaged",
    )
    return AccountCheck(unconfirmed, holdings, prices)


def _unconfirmed(
    totals: Mapping[str, float], positions: list[PositionRow], alert: AlertFn
) -> set[str]:
    held: dict[str, float] = {}
    symbols: dict[str, list[str]] = {}
    for position in positions:
        base = position.symbol.split("/")[0]
        held[base] = held.get(base, 0.0) + position.amount
        symbols.setdefault(base, []).append(position.symbol)
    unconfirmed: set[str] = set()
    for base, amount in held.items():
        on_exchange = totals.get(base, 0.0)
        if on_exchange + max(1e-12, amount * 1e-6) < amount:
            unconfirmed.update(symbols[base])
            alert(
                AlertLevel.ERROR,
                "reconcile",
                f"position {', '.join(symbols[base])} not confirmed: the store holds "
                f"{amount:.8g} {base}, the exchange {on_exchange:.8g}; no automatic exits on it "
                "until you check the account",
            )
    return unconfirmed


def _report_stray_orders(open_orders: list[dict[str, Any]], store: Store, alert: AlertFn) -> None:
    for order in open_orders:
        client_id = str(order.get("clientOrderId") or "")
        if not client_id.startswith(CLIENT_ID_PREFIX):
            continue
        row = store.order(client_id)
        if row is None or row.status != "pending":
            alert(
                AlertLevel.WARNING,
                "reconcile",
                f"open order {client_id} ({order.get('side')} {order.get('symbol')}) is on the "
                f"exchange but {'unknown here' if row is None else row.status} in the store",
            )


def lost_store_notice(
    store: Store, exchange: Exchange, mode: Mode, unmanaged: list[Holding], stake: str
) -> str | None:
    """Plain words when the bot's database is new but the exchange says this bot traded."""
    if store.get_state("cycle") is not None or store.positions() or store.trades(1):
        return None
    ledger = getattr(exchange, "ledger", None)  # the simulator's / paper account's own SQLite
    fills = [
        o
        for o in (ledger.orders.values() if ledger is not None else ())
        if str(o.get("clientOrderId") or "").startswith(CLIENT_ID_PREFIX)
        and (_amount(o.get("filled")) or 0.0) > 0
    ]
    if not fills and not unmanaged:
        return None
    coins = ", ".join(h.describe(stake) for h in unmanaged)
    if ledger is None or mode not in VENUES:
        return (
            f"the bot's database {store.path} is new, but the exchange account holds {coins}: "
            "if this bot traded the account before, its database was lost or deleted; these "
            "coins are unmanaged (restore the database from a backup, or sell them by hand)"
        )
    venue = VENUES[mode]
    where = f"'s database {ledger.path}" if getattr(ledger, "path", None) else ""
    orders = f"{len(fills)} filled order{'s' if len(fills) != 1 else ''} of this bot"
    held = f" and {coins}" if coins else ""
    unmanaged_now = "; these coins are unmanaged" if coins else ""
    return (
        f"the bot's database {store.path} is new, but {venue}{where} holds {orders}{held}: "
        f"the bot's database was lost or deleted{unmanaged_now} (restore {store.path.name} "
        f"from a backup, or delete {venue}'s database too to start afresh)"
    )
