"""Live start: compare what the store believes with what the exchange holds.

Pending orders are resolved by the executor (looked up by client order id). This checks the
rest: balances against open positions, and open orders on the exchange that carry our client
order ids but that the store does not know as pending. Positions the exchange does not confirm
are flagged (an alert, and no automatic exits on them) rather than silently dropped or sold.
"""

from __future__ import annotations

from typing import Any

from tui_bot.engine.executor import CLIENT_ID_PREFIX, AlertFn
from tui_bot.exchange.base import Exchange
from tui_bot.store import Store


async def reconcile_account(
    exchange: Exchange, store: Store, stake_currency: str, alert: AlertFn
) -> set[str]:
    """Symbols of the store's positions that the exchange's balances do not confirm."""
    balance = await exchange.fetch_balance()
    open_orders = await exchange.fetch_open_orders()
    totals: dict[str, Any] = balance.get("total") or {}
    held: dict[str, float] = {}
    symbols: dict[str, list[str]] = {}
    for position in store.positions():
        base = position.symbol.split("/")[0]
        held[base] = held.get(base, 0.0) + position.amount
        symbols.setdefault(base, []).append(position.symbol)
    unconfirmed: set[str] = set()
    for base, amount in held.items():
        on_exchange = float(totals.get(base) or 0.0)
        if on_exchange + max(1e-12, amount * 1e-6) < amount:
            unconfirmed.update(symbols[base])
            alert(
                "error",
                "reconcile",
                f"position {', '.join(symbols[base])} not confirmed: the store holds "
                f"{amount:.8g} {base}, the exchange {on_exchange:.8g}; no automatic exits on it "
                "until you check the account",
            )
    for order in open_orders:
        client_id = str(order.get("clientOrderId") or "")
        if not client_id.startswith(CLIENT_ID_PREFIX):
            continue
        row = store.order(client_id)
        if row is None or row.status != "pending":
            alert(
                "warning",
                "reconcile",
                f"open order {client_id} ({order.get('side')} {order.get('symbol')}) is on the "
                f"exchange but {'unknown here' if row is None else row.status} in the store",
            )
    free = float((balance.get("free") or {}).get(stake_currency) or 0.0)
    confirmed = sum(len(s) for s in symbols.values()) - len(unconfirmed)
    alert(
        "info",
        "reconcile",
        f"live account: {free:,.2f} {stake_currency} free, {len(open_orders)} open orders, "
        f"{confirmed} positions confirmed, {len(unconfirmed)} not",
    )
    return unconfirmed
