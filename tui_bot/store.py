"""SQLite (WAL) persistence: orders, trades, positions, equity, samples, model metadata, alerts.

Every write that matters commits before the caller goes on, so a SIGKILL at any moment loses
nothing that was acknowledged. One connection, used from the engine's thread only.
"""

from __future__ import annotations

import bisect
import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tui_bot.storage import Database

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    Row = TypeVar("Row", bound=DataclassInstance)

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
# fields whose column has another name ("group" is an SQL keyword)
_POSITION_COLUMNS = {"group": "group_name"}


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

    The open positions are read once and then kept in memory, written through: this store is
    the only writer of its file (one engine, one connection), so each write that changes a
    position changes the list in the same call, after its statement succeeded. The state values
    are kept once read. A transaction that fails forgets both: SQLite may have rolled back more
    than the statement that failed, so the database is read again."""

    def __init__(self, path: Path | None) -> None:
        """`path` None: in memory (a backtest's store: nothing on disk)."""
        self.path = path if path is not None else Path(":memory:")
        self._db = Database(path, SCHEMA, MIGRATIONS, LOST)
        self._positions: list[PositionRow] | None = None  # oldest first; None: read them
        self._state: dict[str, str | None] = {}  # key -> value (None: no such key)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """BEGIN IMMEDIATE ... COMMIT: all of it or, on any error, nothing. Write positions
        inside one of these (or with no transaction at all): a failed one forgets them."""
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
            row = self._db.row("SELECT value FROM state WHERE key = ?", (key,))
            self._state[key] = str(row["value"]) if row else None
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
        row = self._db.row(
            f"SELECT {_select(OrderRow)} FROM orders WHERE client_order_id = ?",
            (client_order_id,),
        )
        return _order(row) if row else None

    def pending_orders(self) -> list[OrderRow]:
        rows = self._db.rows(
            f"SELECT {_select(OrderRow)} FROM orders WHERE status = 'pending' ORDER BY created_at"
        )
        return [_order(r) for r in rows]

    def add_pending_order(self, order: OrderRow, now: float) -> None:
        values = {
            **asdict(order),
            "status": "pending",
            "context": json.dumps(order.context),
            "created_at": now,
            "updated_at": now,
        }
        self._db.execute(_insert("orders", values), values)

    def order_created_at(self, client_order_id: str) -> float | None:
        """When the order was written as pending (before it was sent)."""
        row = self._db.row(
            "SELECT created_at FROM orders WHERE client_order_id = ?", (client_order_id,)
        )
        return float(row["created_at"]) if row else None

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
        """The open positions, oldest first (read from the database once)."""
        if self._positions is None:
            # rowid: of two opened at the same time, the one inserted first, as insert_position
            rows = self._db.rows(
                f"SELECT {_select(PositionRow, **_POSITION_COLUMNS)} FROM positions "
                "ORDER BY opened_at, rowid"
            )
            self._positions = [_position(r) for r in rows]
        return list(self._positions)

    def insert_position(self, db: Database, p: PositionRow) -> None:
        values = asdict(p)
        values["features"] = json.dumps(list(p.features))
        for field, column in _POSITION_COLUMNS.items():
            values[column] = values.pop(field)
        db.execute(_insert("positions", values), values)
        if self._positions is not None:
            opened = [q.opened_at for q in self._positions]
            at = bisect.bisect_right(opened, float(p.opened_at))
            self._positions.insert(at, _as_read(p, values["features"]))

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
        db.execute("DELETE FROM positions WHERE symbol = ?", (p.symbol,))
        # now, not after the trade: without a transaction, the delete stays should that fail
        if self._positions is not None:
            self._positions = [q for q in self._positions if q.symbol != p.symbol]
        trade = {
            "symbol": p.symbol,
            "group_name": p.group,
            "amount": p.amount,
            "entry_price": p.entry_price,
            "exit_price": exit_price,
            "opened_at": p.opened_at,
            "closed_at": closed_at,
            "pnl": pnl,
            "pnl_pct": pnl_pct,
            "reason": reason,
            "entry_order": p.entry_order,
            "exit_order": exit_order,
        }
        db.execute(_insert("trades", trade), trade)
        return TradeRow(p.symbol, pnl, pnl_pct, closed_at, reason)

    def trades(self, limit: int = 1000, after_id: int | None = None) -> list[TradeRow]:
        """The last `limit` trades, newest first; `after_id`: only those added after that trade
        (a last_trade_id)."""
        rows = self._db.rows(
            f"SELECT {_select(TradeRow)} FROM trades WHERE id > ? ORDER BY id DESC LIMIT ?",
            (after_id or 0, limit),
        )
        return [_from_row(TradeRow, r) for r in rows]

    def last_trade_id(self) -> int | None:
        """Changes whenever a trade is added: tells whether trades read before are current."""
        row = self._db.row("SELECT MAX(id) AS id FROM trades")
        return None if row is None or row["id"] is None else int(row["id"])

    def closed_trades(self) -> list[ClosedTrade]:
        """Every trade, oldest first, with both orders' fees and the entry's probability."""
        rows = self._db.rows(
            f"SELECT {_select(ClosedTrade, table='t', **_TRADE_JOINED)} FROM {_TRADE_JOINS} "
            "ORDER BY t.id"
        )
        return [_from_row(ClosedTrade, r) for r in rows]

    def trade_records(
        self, after_id: int = 0, closed_from: float | None = None
    ) -> list[TradeRecord]:
        """Trades with their id, group, fees and entry probability, oldest first: those added
        after trade `after_id`, and closed at or after `closed_from` when given."""
        rows = self._db.rows(
            f"SELECT {_select(TradeRecord, table='t', group='t.group_name', **_TRADE_JOINED)} "
            f"FROM {_TRADE_JOINS} WHERE t.id > ? AND t.closed_at >= ? ORDER BY t.id",
            (after_id, float("-inf") if closed_from is None else closed_from),
        )
        return [_from_row(TradeRecord, r) for r in rows]

    # equity --------------------------------------------------------------------------------
    def equity_points(
        self, after: int = 0, time_from: float | None = None
    ) -> list[tuple[int, float, float]]:
        """(rowid, time, equity) of the equity points after rowid `after`, at or after
        `time_from` when given, oldest first."""
        rows = self._db.rows(
            "SELECT rowid, time, equity FROM equity WHERE rowid > ? AND time >= ? ORDER BY rowid",
            (after, float("-inf") if time_from is None else time_from),
        )
        return [(int(r["rowid"]), float(r["time"]), float(r["equity"])) for r in rows]

    def add_equity(self, time: float, cycle: int, equity: float, drawdown_pct: float) -> None:
        point = {"time": time, "cycle": cycle, "equity": equity, "drawdown_pct": drawdown_pct}
        self._db.execute(_insert("equity", point), point)

    def equity_history(self, limit: int = 200) -> list[float]:
        rows = self._db.rows("SELECT equity FROM equity ORDER BY rowid DESC LIMIT ?", (limit,))
        return [float(r["equity"]) for r in reversed(rows)]

    def peak_equity(self) -> float | None:
        row = self._db.row("SELECT MAX(equity) AS peak FROM equity")
        return None if row is None or row["peak"] is None else float(row["peak"])

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
        row = self._db.row(
            "SELECT COUNT(*) AS count, COALESCE(SUM(pnl > 0), 0) AS won, "
            "COALESCE(SUM(pnl), 0.0) AS pnl FROM trades"
        )
        assert row is not None  # an aggregate always has its one row
        return int(row["count"]), int(row["won"]), float(row["pnl"])

    def load_samples(self) -> bytes | None:
        row = self._db.row("SELECT data FROM samples WHERE id = 1")
        return bytes(row["data"]) if row else None

    def record_model(
        self, path: str, sha256: str, kind: str, trained_at: float, metrics: dict[str, Any]
    ) -> None:
        self._db.execute(
            "INSERT INTO models (path, sha256, kind, trained_at, metrics) VALUES (?, ?, ?, ?, ?)",
            (path, sha256, kind, trained_at, json.dumps(metrics)),
        )

    def latest_model(self) -> tuple[str, str] | None:
        """(path, sha256) of the newest saved model."""
        row = self._db.row("SELECT path, sha256 FROM models ORDER BY id DESC LIMIT 1")
        return (str(row["path"]), str(row["sha256"])) if row else None

    # alerts --------------------------------------------------------------------------------
    def add_alert(self, time: float, level: str, source: str, message: str) -> None:
        self._db.execute(
            "INSERT INTO alerts (time, level, source, message) VALUES (?, ?, ?, ?)",
            (time, level, source, message),
        )

    def recent_alerts(self, limit: int = 50) -> list[tuple[float, str, str, str]]:
        rows = self._db.rows(
            "SELECT time, level, source, message FROM alerts ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [(r["time"], r["level"], r["source"], r["message"]) for r in rows]


# a trade with its two orders: their fees and the entry's probability
_TRADE_JOINS = (
    "trades t LEFT JOIN orders e ON e.client_order_id = t.entry_order "
    "LEFT JOIN orders x ON x.client_order_id = t.exit_order"
)
_TRADE_JOINED = {
    "fees": "COALESCE(e.fee, 0) + COALESCE(x.fee, 0)",
    "probability": "COALESCE(json_extract(e.context, '$.probability'), 0)",
}


def _select(cls: type[Row], table: str = "", **expressions: str) -> str:
    """The SELECT list of `cls`'s fields, each named as its field: the column of that name (of
    `table` when given), or `expressions[field]`."""
    prefix = f"{table}." if table else ""
    return ", ".join(
        f'{expressions[f.name]} AS "{f.name}"' if f.name in expressions else prefix + f.name
        for f in fields(cls)
    )


def _insert(table: str, values: Mapping[str, object]) -> str:
    """INSERT INTO table (a, b) VALUES (:a, :b), for the names of `values`."""
    columns = ", ".join(values)
    names = ", ".join(f":{name}" for name in values)
    return f"INSERT INTO {table} ({columns}) VALUES ({names})"


def _from_row(cls: type[Row], row: sqlite3.Row, **converted: Any) -> Row:
    """A `cls` from the columns named as its fields; `converted`: fields given instead."""
    return cls(**{f.name: row[f.name] for f in fields(cls)} | converted)


def _position(row: sqlite3.Row) -> PositionRow:
    return _from_row(PositionRow, row, features=tuple(json.loads(row["features"])))


def _as_read(p: PositionRow, features: str) -> PositionRow:
    """`p` as reading it back gives it: REAL columns as floats, the features through JSON."""
    return replace(
        p,
        amount=float(p.amount),
        entry_price=float(p.entry_price),
        entry_cost=float(p.entry_cost),
        stop_loss=float(p.stop_loss),
        take_profit=float(p.take_profit),
        opened_at=float(p.opened_at),
        probability=float(p.probability),
        features=tuple(json.loads(features)),
    )


def _order(row: sqlite3.Row) -> OrderRow:
    return _from_row(OrderRow, row, context=json.loads(row["context"]))
