"""The store maps rows by column name (never by position), and keeps the open positions in
memory, written through, equal to the database after a failed write too."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tui_bot import store as store_module
from tui_bot.errors import StorageError, StorageFull
from tui_bot.store import MIGRATIONS, OrderRow, PositionRow, Store

DATA = Path(__file__).parent / "data"


def position(symbol: str, opened_at: float = 10.0, features: int = 4) -> PositionRow:
    return PositionRow(
        symbol=symbol,
        group="layer-1",
        side="long",
        amount=0.5,
        entry_price=100.0,
        entry_cost=50.5,
        stop_loss=98.0,
        take_profit=103.0,
        opened_at=opened_at,
        probability=0.6,
        features=tuple(0.25 * i for i in range(features)),
        entry_order=f"open-{symbol}",
    )


def in_database(path: Path) -> list[PositionRow]:
    """The open positions as a new store reads them from the file (no cache of its own yet)."""
    fresh = Store(path)
    try:
        return fresh.positions()
    finally:
        fresh.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "s.sqlite")
    yield store
    store.close()


def limit_to_current_size(store: Store) -> None:
    """Let the file grow no more, like a full disk (SQLite's max_page_count)."""
    raw = store._db._db
    raw.execute(f"PRAGMA max_page_count = {raw.execute('PRAGMA page_count').fetchone()[0]}")


def lift_limit(store: Store) -> None:
    store._db._db.execute("PRAGMA max_page_count = 1073741823")


def count_position_reads(store: Store) -> list[str]:
    """The SELECTs on positions the store runs from now on."""
    reads: list[str] = []
    raw = store._db._db  # the sqlite3 connection

    def traced(sql: str) -> None:
        if sql.lstrip().upper().startswith("SELECT") and "FROM positions" in sql:
            reads.append(sql)

    raw.set_trace_callback(traced)
    return reads


# -- columns by name ---------------------------------------------------------------------------

SWAPS = {  # pairs of columns of the same type, swapped in the schema
    "positions": ("stop_loss", "take_profit"),
    "trades": ("entry_price", "exit_price"),
    "orders": ("symbol", "side"),
    "equity": ("equity", "drawdown_pct"),
}


def swapped_schema() -> str:
    schema = store_module.SCHEMA
    for table, (a, b) in SWAPS.items():
        header = f"CREATE TABLE IF NOT EXISTS {table} ("
        start = schema.index(header) + len(header)
        end = schema.index(");", start)
        body = schema[start:end]
        first, second = f"{a} ", f"{b} "
        assert body.count(first) == 1 and body.count(second) == 1, table
        body = body.replace(first, "\0").replace(second, first).replace("\0", second)
        schema = schema[:start] + body + schema[end:]
    assert schema != store_module.SCHEMA
    return schema


def test_swapped_columns_in_the_schema_change_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "SCHEMA", swapped_schema())
    path = tmp_path / "s.sqlite"
    store = Store(path)
    order = OrderRow("tb9", 3, "close", "ETH/USDT", "sell", 0.5, "pending", "take_profit", {})
    held = position("ETH/USDT")
    with store.transaction() as db:
        store.insert_position(db, held)
    store.add_pending_order(order, 30.0)
    store.add_equity(40.0, 3, 101.5, -2.5)
    assert in_database(path) == [held]
    with store.transaction() as db:
        store.close_position(db, held, 110.0, 54.0, 50.0, "take_profit", "tb9")
    store.close()

    fresh = Store(path)
    assert fresh.order("tb9") == order
    [trade] = fresh.closed_trades()
    assert (trade.entry_price, trade.exit_price) == (100.0, 110.0)
    [record] = fresh.trade_records()
    assert (record.group, record.entry_price, record.exit_price) == ("layer-1", 100.0, 110.0)
    assert fresh.equity_history() == [101.5] and fresh.peak_equity() == 101.5
    fresh.close()
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("SELECT equity, drawdown_pct FROM equity").fetchall() == [(101.5, -2.5)]
        assert raw.execute("SELECT symbol, side FROM orders").fetchall() == [("ETH/USDT", "sell")]
    finally:
        raw.close()


def test_a_column_added_by_a_migration_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ALTER TABLE puts the new column last: writes that name their columns still fit."""
    path = tmp_path / "tui_bot.sqlite"
    shutil.copy(DATA / "v0_tui_bot.sqlite", path)
    steps = [
        *MIGRATIONS,
        (2, "ALTER TABLE positions ADD COLUMN note TEXT"),
        (3, "ALTER TABLE equity ADD COLUMN note TEXT"),
    ]
    monkeypatch.setattr(store_module, "MIGRATIONS", steps)
    store = Store(path)
    before = store.positions()
    new = position("NEW/USDT", opened_at=max(p.opened_at for p in before) + 1)
    with store.transaction() as db:
        store.insert_position(db, new)
    store.add_equity(1e12, 99, 123.0, 0.0)
    assert store.equity_history()[-1] == 123.0
    store.close()
    assert in_database(path) == [*before, new]


# -- open positions in memory ------------------------------------------------------------------


def test_the_open_positions_are_read_once(tmp_path: Path) -> None:
    before = Store(tmp_path / "s.sqlite")
    with before.transaction() as db:
        before.insert_position(db, position("OLD/USDT", opened_at=5.0))
    before.close()
    store = Store(tmp_path / "s.sqlite")
    reads = count_position_reads(store)
    for _ in range(3):
        assert [p.symbol for p in store.positions()] == ["OLD/USDT"]
    with store.transaction() as db:
        store.insert_position(db, position("BTC/USDT"))
        trade = store.close_position(
            db, position("OLD/USDT", opened_at=5.0), 99.0, 49.0, 20.0, "stop_loss", "x1"
        )
    assert trade.pnl == pytest.approx(-1.5)
    assert store.positions() == [position("BTC/USDT")] == in_database(store.path)
    store.positions().clear()  # a copy: the store's own list is not the caller's
    assert store.positions() == [position("BTC/USDT")]
    assert len(reads) == 1
    store.close()


def test_positions_written_through_keep_the_order_of_the_database(store: Store) -> None:
    store.positions()  # loaded: what follows goes through the list in memory
    for symbol, opened_at in [("C", 30.0), ("A1", 10.0), ("B", 20.0), ("A2", 10.0), ("D", 5.0)]:
        with store.transaction() as db:
            store.insert_position(db, position(symbol, opened_at))
    with store.transaction() as db:
        store.close_position(db, position("B", 20.0), 100.0, 50.0, 40.0, "exit", "x1")
    with store.transaction() as db:
        store.insert_position(db, position("A3", 10.0))
    assert [p.symbol for p in store.positions()] == ["D", "A1", "A2", "A3", "C"]
    assert store.positions() == in_database(store.path)


def test_a_position_in_memory_is_as_the_database_gives_it_back(store: Store) -> None:
    store.positions()
    # what a caller may pass: ints for floats, a list for the tuple
    given = replace(position("INT/USDT"), amount=2, opened_at=7, features=[1, 0.5])
    with store.transaction() as db:
        store.insert_position(db, given)
    [held] = store.positions()
    assert [held] == in_database(store.path)
    assert type(held.amount) is float and type(held.opened_at) is float
    assert held.features == (1, 0.5) and isinstance(held.features, tuple)


def test_a_failed_transaction_leaves_the_positions_as_in_the_database(store: Store) -> None:
    with store.transaction() as db:
        store.insert_position(db, position("KEEP/USDT"))
    committed = store.positions()
    with pytest.raises(RuntimeError), store.transaction() as db:
        store.insert_position(db, position("NEW/USDT", opened_at=20.0))
        store.close_position(db, committed[0], 110.0, 55.0, 30.0, "take_profit", "x1")
        assert [p.symbol for p in store.positions()] == ["NEW/USDT"]  # written through
        raise RuntimeError("crash before the commit")
    assert store.positions() == committed == in_database(store.path)
    assert store.trades() == []


def test_a_refused_insert_leaves_the_positions_as_in_the_database(store: Store) -> None:
    with store.transaction() as db:
        store.insert_position(db, position("KEEP/USDT"))
    committed = store.positions()
    with pytest.raises(StorageError, match="UNIQUE"), store.transaction() as db:
        store.insert_position(db, position("NEW/USDT", opened_at=20.0))
        store.insert_position(db, position("KEEP/USDT"))  # the same symbol again
    assert store.positions() == committed == in_database(store.path)
    # with no transaction, the refused statement alone changes nothing
    with pytest.raises(StorageError, match="UNIQUE"):
        store.insert_position(store._db, position("KEEP/USDT"))
    assert store.positions() == committed == in_database(store.path)


def test_a_full_disk_leaves_the_positions_as_in_the_database(store: Store) -> None:
    with store.transaction() as db:
        store.insert_position(db, position("KEEP/USDT"))
    committed = store.positions()
    limit_to_current_size(store)
    with pytest.raises(StorageFull), store.transaction() as db:
        store.insert_position(db, position("SMALL/USDT", opened_at=20.0))
        assert len(store.positions()) == 2  # this one fitted, and was written through
        store.insert_position(db, position("HUGE/USDT", opened_at=30.0, features=100_000))
    assert store.positions() == committed
    lift_limit(store)
    assert in_database(store.path) == committed
    with store.transaction() as db:  # room again: writes go through again
        store.insert_position(db, position("SMALL/USDT", opened_at=20.0))
    assert [p.symbol for p in store.positions()] == ["KEEP/USDT", "SMALL/USDT"]
    assert store.positions() == in_database(store.path)


def test_a_close_whose_trade_is_refused_outside_a_transaction(store: Store) -> None:
    """Without a transaction the delete is committed before the trade fails: the list in
    memory follows the database statement by statement."""
    with store.transaction() as db:
        store.insert_position(db, position("A/USDT"))
        store.insert_position(db, position("B/USDT", opened_at=20.0))
        store.close_position(db, position("A/USDT"), 100.0, 50.0, 30.0, "exit", "x1")
    assert [p.symbol for p in store.positions()] == ["B/USDT"]
    with pytest.raises(StorageError, match="UNIQUE"):  # the same exit order id again
        store.close_position(store._db, position("B/USDT", 20.0), 100.0, 50.0, 40.0, "exit", "x1")
    assert store.positions() == in_database(store.path) == []
