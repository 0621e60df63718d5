"""SQLite (WAL) persistence: orders, trades, positions, equity, samples, model metadata, alerts.

Every write that matters commits before the caller goes on, so a SIGKILL at any moment loses
nothing that was acknowledged. One connection, used from the engine's thread only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui_bot.storage import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY,
    cycle INTEGER NOT NULL,
    intent TEXT NOT NULL,            -- open | close
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    amount REAL NOT NULL,
    status TEXT NOT NULL,            -- pending | filled | open | canceled | failed | not_sent
    exchange_order_id TEXT,
    filled REAL NOT NULL DEFAULT 0,
    average REAL,
    cost REAL NOT NULL DEFAULT 0,
    fee REAL NOT NULL DEFAULT 0,
    reason TEXT,
    context TEXT NOT NULL DEFAULT '{}',  -- what applying the fill needs (json)
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
-- the engine asks for the pending orders twice a cycle: without this it reads every order
CREATE INDEX IF NOT EXISTS orders_pending ON orders (created_at) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS positions (
    symbol TEXT PRIMARY KEY,
    group_name TEXT NOT NULL,
    side TEXT NOT NULL,
    amount REAL NOT NULL,
    entry_price REAL NOT NULL,
    entry_cost REAL NOT NULL,
    stop_loss REAL NOT NULL,
    take_profit REAL NOT NULL,
    opened_at REAL NOT NULL,
    probability REAL NOT NULL,
    features TEXT NOT NULL,
    entry_order TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trades (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    symbol TEXT NOT NULL,
    group_name TEXT NOT NULL,
    amount REAL NOT NULL,
    entry_price REAL NOT NULL,
    exit_price REAL NOT NULL,
    opened_at REAL NOT NULL,
    closed_at REAL NOT NULL,
    pnl REAL NOT NULL,
    pnl_pct REAL NOT NULL,
    reason TEXT NOT NULL,
    entry_order TEXT NOT NULL,
    exit_order TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS equity (
    time REAL NOT NULL, cycle INTEGER NOT NULL, equity REAL NOT NULL, drawdown_pct REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS samples (id INTEGER PRIMARY KEY CHECK (id = 1), data BLOB NOT NULL,
    count INTEGER NOT NULL, saved_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL, sha256 TEXT NOT NULL,
    kind TEXT NOT NULL, trained_at REAL NOT NULL, metrics TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, level TEXT NOT NULL,
    source TEXT NOT NULL, message TEXT NOT NULL
);
"""
# (version, sql) steps from one schema version to the next; see tui_bot/storage.py.
# v1: the first versioned schema (the same tables as the unversioned v0).
MIGRATIONS: list[tuple[int, str]] = [(1, "")]
# what moving a damaged store aside means, for the message that says how
LOST = "the bot will start with an empty database and report unmanaged coins"
# the columns of OrderRow, in its field order
_ORDER_COLUMNS = "client_order_id, cycle, intent, symbol, side, amount, status, reason, context"


@dataclass(frozen=True)
class PositionRow:
    symbol: str
    group: str
    side: str
    amount: float
    entry_price: float
    entry_cost: float
    stop_loss: float
    take_profit: float
    opened_at: float
    probability: float
    features: tuple[float, ...]
    entry_order: str


@dataclass(frozen=True)
class OrderRow:
    client_order_id: str
    cycle: int
    intent: str
    symbol: str
    side: str
    amount: float
    status: str
    reason: str | None
    context: dict[str, Any]


@dataclass(frozen=True)
class TradeRow:
    symbol: str
    pnl: float
    pnl_pct: float
    closed_at: float
    reason: str


@dataclass(frozen=True)
class ClosedTrade:
    symbol: str
    opened_at: float
    closed_at: float
    entry_price: float
    exit_price: float
    amount: float
    pnl: float  # stake currency, after both fees
    pnl_pct: float
    fees: float  # both orders' fees, stake currency
    reason: str
    probability: float  # what the model gave the entry


@dataclass(frozen=True)
class TradeRecord:
    """A closed trade as the dashboard lists it: ClosedTrade with its id and group."""

    id: int
    symbol: str
    group: str
    opened_at: float
    closed_at: float
    entry_price: float
    exit_price: float
    amount: float
    pnl: float  # stake currency, after both fees
    pnl_pct: float
    fees: float  # both orders' fees, stake currency
    reason: str
    probability: float  # what the model gave the entry


class Store:
    """The bot's database. Every fault is a tui_bot.errors.StorageError naming the file; a full
    disk is a StorageFull, and what was committed before it stays.

    The open positions and the state values, read every cycle, are kept in memory once read:
    this store is the only writer of its file (one engine, one connection), so its own writes
    keep them current, and a transaction that fails forgets them (it may have written them)."""

    def __init__(self, path: Path | None) -> None:
        """`path` None: in memory (a backtest's store: nothing on disk)."""
        self.path = path if path is not None else Path(":memory:")
        self._db = Database(path, SCHEMA, MIGRATIONS, LOST)
        self._positions: list[PositionRow] | None = None  # None: read them again
        self._state: dict[str, str | None] = {}  # key -> value (None: no such key)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """BEGIN IMMEDIATE ... COMMIT: all of it or, on any error, nothing."""
        try:
            with self._db.transaction() as db:
                yield db
        except BaseException:
            self._forget()  # what was read or written inside it may be rolled back
            raise

    def _forget(self) -> None:
        self._positions = None
        self._state.clear()

    def probe_space(self) -> None:
        """StorageFull unless the disk has room again (after a full disk)."""
        self._db.probe_space()

    # state ---------------------------------------------------------------------------------
    def get_state(self, key: str, default: str | None = None) -> str | None:
        if key not in self._state:
            row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
            self._state[key] = row[0] if row else None
        value = self._state[key]
        return default if value is None else value

    def set_state(self, key: str, value: object) -> None:
        self._state.pop(key, None)  # should the write fail, read it again
        self._db.execute(
            "INSERT INTO state (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, str(value)),
        )
        self._state[key] = str(value)

    def next_cycle(self, last: int = 0) -> int:
        """Increment and persist the cycle counter: a number is never reused after a restart.
        `last`: the last number used, should it not have been saved (a full disk)."""
        cycle = max(int(self.get_state("cycle", "0") or 0), last) + 1
        self.set_state("cycle", cycle)
        return cycle

    def dust(self) -> dict[str, float]:
        """Per asset, what trading left on the exchange below one lot step or minimum order:
        known to be there, too little to sell (the executor books it)."""
        try:
            stored = json.loads(self.get_state("dust", "{}") or "{}")
        except json.JSONDecodeError:
            return {}
        return {str(k): float(v) for k, v in stored.items()} if isinstance(stored, dict) else {}

    def set_dust(self, dust: dict[str, float]) -> None:
        self.set_state("dust", json.dumps({k: round(v, 12) for k, v in dust.items() if v > 1e-12}))

    # orders --------------------------------------------------------------------------------
    def order(self, client_order_id: str) -> OrderRow | None:
        row = self._db.execute(
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE client_order_id = ?", (client_order_id,)
        ).fetchone()
        return _order(row) if row else None

    def pending_orders(self) -> list[OrderRow]:
        rows = self._db.execute(
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE status = 'pending' ORDER BY created_at"
        ).fetchall()
        return [_order(r) for r in rows]

    def add_pending_order(self, order: OrderRow, now: float) -> None:
        self._db.execute(
            "INSERT INTO orders (client_order_id, cycle, intent, symbol, side, amount, status, "
            "reason, context, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)",
            (
                order.client_order_id,
                order.cycle,
                order.intent,
                order.symbol,
                order.side,
                order.amount,
                order.reason,
                json.dumps(order.context),
                now,
                now,
            ),
        )

    def order_created_at(self, client_order_id: str) -> float | None:
        """When the order was written as pending (before it was sent)."""
        row = self._db.execute(
            "SELECT created_at FROM orders WHERE client_order_id = ?", (client_order_id,)
        ).fetchone()
        return float(row[0]) if row else None

    def mark_order(self, client_order_id: str, status: str, now: float, error: str = "") -> None:
        self._db.execute(
            "UPDATE orders SET status = ?, error = ?, updated_at = ? WHERE client_order_id = ?",
            (status, error or None, now, client_order_id),
        )

    def record_fill(
        self, db: Database, client_order_id: str, fill: dict[str, Any], now: float
    ) -> None:
        db.execute(
            "UPDATE orders SET status = 'filled', exchange_order_id = ?, filled = ?, average = ?, "
            "cost = ?, fee = ?, updated_at = ? WHERE client_order_id = ?",
            (
                str(fill["id"]),
                fill["filled"],
                fill["average"],
                fill["cost"],
                fill["fee"],
                now,
                client_order_id,
            ),
        )

    # positions and trades ------------------------------------------------------------------
    def positions(self) -> list[PositionRow]:
        """The open positions, oldest first."""
        if self._positions is None:
            rows = self._db.execute(
                "SELECT symbol, group_name, side, amount, entry_price, entry_cost, stop_loss, "
                "take_profit, opened_at, probability, features, entry_order FROM positions "
                "ORDER BY opened_at"
            ).fetchall()
            self._positions = [PositionRow(*r[:10], tuple(json.loads(r[10])), r[11]) for r in rows]
        return list(self._positions)

    def insert_position(self, db: Database, p: PositionRow) -> None:
        self._positions = None
        db.execute(
            "INSERT INTO positions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                p.symbol,
                p.group,
                p.side,
                p.amount,
                p.entry_price,
                p.entry_cost,
                p.stop_loss,
                p.take_profit,
                p.opened_at,
                p.probability,
                json.dumps(list(p.features)),
                p.entry_order,
            ),
        )

    def close_position(
        self,
        db: Database,
        p: PositionRow,
        exit_price: float,
        proceeds: float,
        closed_at: float,
        reason: str,
        exit_order: str,
    ) -> TradeRow:
        pnl = proceeds - p.entry_cost
        pnl_pct = pnl / p.entry_cost * 100 if p.entry_cost else 0.0
        self._positions = None
        db.execute("DELETE FROM positions WHERE symbol = ?", (p.symbol,))
        db.execute(
            "INSERT INTO trades (symbol, group_name, amount, entry_price, exit_price, opened_at, "
            "closed_at, pnl, pnl_pct, reason, entry_order, exit_order) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                p.symbol,
                p.group,
                p.amount,
                p.entry_price,
                exit_price,
                p.opened_at,
                closed_at,
                pnl,
                pnl_pct,
                reason,
                p.entry_order,
                exit_order,
            ),
        )
        return TradeRow(p.symbol, pnl, pnl_pct, closed_at, reason)

    def trades(self, limit: int = 1000, after_id: int | None = None) -> list[TradeRow]:
        """The last `limit` trades, newest first; `after_id`: only those added after that trade
        (a last_trade_id)."""
        rows = self._db.execute(
            "SELECT symbol, pnl, pnl_pct, closed_at, reason FROM trades WHERE id > ? "
            "ORDER BY id DESC LIMIT ?",
            (after_id or 0, limit),
        ).fetchall()
        return [TradeRow(*r) for r in rows]

    def last_trade_id(self) -> int | None:
        """Changes whenever a trade is added: tells whether trades read before are current."""
        return self._db.execute("SELECT MAX(id) FROM trades").fetchone()[0]

    def closed_trades(self) -> list[ClosedTrade]:
        """Every trade, oldest first, with both orders' fees and the entry's probability."""
        rows = self._db.execute(
            "SELECT t.symbol, t.opened_at, t.closed_at, t.entry_price, t.exit_price, t.amount, "
            "t.pnl, t.pnl_pct, COALESCE(e.fee, 0) + COALESCE(x.fee, 0), t.reason, "
            "COALESCE(json_extract(e.context, '$.probability'), 0) FROM trades t "
            "LEFT JOIN orders e ON e.client_order_id = t.entry_order "
            "LEFT JOIN orders x ON x.client_order_id = t.exit_order ORDER BY t.id"
        ).fetchall()
        return [ClosedTrade(*r) for r in rows]

    def trade_records(
        self, after_id: int = 0, closed_from: float | None = None
    ) -> list[TradeRecord]:
        """Trades with their id, group, fees and entry probability, oldest first: those added
        after trade `after_id`, and closed at or after `closed_from` when given."""
        rows = self._db.execute(
            "SELECT t.id, t.symbol, t.group_name, t.opened_at, t.closed_at, t.entry_price, "
            "t.exit_price, t.amount, t.pnl, t.pnl_pct, COALESCE(e.fee, 0) + COALESCE(x.fee, 0), "
            "t.reason, COALESCE(json_extract(e.context, '$.probability'), 0) FROM trades t "
            "LEFT JOIN orders e ON e.client_order_id = t.entry_order "
            "LEFT JOIN orders x ON x.client_order_id = t.exit_order "
            "WHERE t.id > ? AND t.closed_at >= ? ORDER BY t.id",
            (after_id, float("-inf") if closed_from is None else closed_from),
        ).fetchall()
        return [TradeRecord(*r) for r in rows]

    # equity --------------------------------------------------------------------------------
    def equity_points(
        self, after: int = 0, time_from: float | None = None
    ) -> list[tuple[int, float, float]]:
        """(rowid, time, equity) of the equity points after rowid `after`, at or after
        `time_from` when given, oldest first."""
        rows = self._db.execute(
            "SELECT rowid, time, equity FROM equity WHERE rowid > ? AND time >= ? ORDER BY rowid",
            (after, float("-inf") if time_from is None else time_from),
        ).fetchall()
        return [(int(r[0]), float(r[1]), float(r[2])) for r in rows]

    def add_equity(self, time: float, cycle: int, equity: float, drawdown_pct: float) -> None:
        self._db.execute(
            "INSERT INTO equity VALUES (?, ?, ?, ?)", (time, cycle, equity, drawdown_pct)
        )

    def equity_history(self, limit: int = 200) -> list[float]:
        rows = self._db.execute(
            "SELECT equity FROM equity ORDER BY rowid DESC LIMIT ?", (limit,)
        ).fetchall()
        return [r[0] for r in reversed(rows)]

    def peak_equity(self) -> float | None:
        row = self._db.execute("SELECT MAX(equity) FROM equity").fetchone()
        return row[0] if row and row[0] is not None else None

    # samples and model ---------------------------------------------------------------------
    def save_samples(self, data: bytes, count: int, now: float) -> None:
        self._db.execute(
            "INSERT INTO samples (id, data, count, saved_at) VALUES (1, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET data = excluded.data, count = excluded.count, "
            "saved_at = excluded.saved_at",
            (data, count, now),
        )

    def trade_totals(self) -> tuple[int, int, float]:
        """(closed trades, of them won, their net PnL in the stake currency), all time."""
        row = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(pnl > 0), 0), COALESCE(SUM(pnl), 0.0) FROM trades"
        ).fetchone()
        return int(row[0]), int(row[1]), float(row[2])

    def load_samples(self) -> bytes | None:
        row = self._db.execute("SELECT data FROM samples WHERE id = 1").fetchone()
        return bytes(row[0]) if row else None

    def record_model(
        self, path: str, sha256: str, kind: str, trained_at: float, metrics: dict[str, Any]
    ) -> None:
        self._db.execute(
            "INSERT INTO models (path, sha256, kind, trained_at, metrics) VALUES (?, ?, ?, ?, ?)",
            (path, sha256, kind, trained_at, json.dumps(metrics)),
        )

    def latest_model(self) -> tuple[str, str] | None:
        """(path, sha256) of the newest saved model."""
        row = self._db.execute(
            "SELECT path, sha256 FROM models ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return (row[0], row[1]) if row else None

    # alerts --------------------------------------------------------------------------------
    def add_alert(self, time: float, level: str, source: str, message: str) -> None:
        self._db.execute(
            "INSERT INTO alerts (time, level, source, message) VALUES (?, ?, ?, ?)",
            (time, level, source, message),
        )

    def recent_alerts(self, limit: int = 50) -> list[tuple[float, str, str, str]]:
        rows = self._db.execute(
            "SELECT time, level, source, message FROM alerts ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [tuple(r) for r in rows]


def _order(row: tuple[Any, ...]) -> OrderRow:
    return OrderRow(*row[:8], json.loads(row[8]))
