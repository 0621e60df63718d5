import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import row_counts

from tui_bot import store as store_module
from tui_bot.errors import StorageError
from tui_bot.exchange.ledger import _StateStore
from tui_bot.storage import schema_version
from tui_bot.store import MIGRATIONS, PositionRow, Store

DATA = Path(__file__).parent / "data"  # databases written by tui-bot before schema versions


def position(symbol: str = "BTC/USDT") -> PositionRow:
    return PositionRow(
        symbol,
        "layer-1",
        "long",
        0.5,
        100.0,
        50.0,
        98.0,
        103.0,
        10.0,
        0.6,
        (0.5, 0.1, 1.0, 1.2),
        "tb1",
    )


def test_wal_mode_and_state(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.next_cycle() == 1
    assert store.next_cycle() == 2
    store.close()
    assert Store(tmp_path / "s.sqlite").next_cycle() == 3  # never reused after a restart


def test_position_round_trip_and_close(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    with store.transaction() as db:
        store.insert_position(db, position())
    assert store.positions() == [position()]
    with store.transaction() as db:
        trade = store.close_position(db, position(), 110.0, 55.0, 20.0, "take_profit", "tb2")
    assert trade.pnl == 5.0 and trade.pnl_pct == 10.0
    assert store.positions() == []
    assert store.trades()[0].reason == "take_profit"


def test_failed_transaction_changes_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    try:
        with store.transaction() as db:
            store.insert_position(db, position())
            raise RuntimeError("crash mid-transaction")
    except RuntimeError:
        pass
    assert store.positions() == []


def test_equity_samples_model_alerts(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    for i, equity in enumerate([100.0, 120.0, 90.0]):
        store.add_equity(float(i), i, equity, 0.0)
    assert store.equity_history() == [100.0, 120.0, 90.0]
    assert store.peak_equity() == 120.0
    store.save_samples(b"abc", 3, 1.0)
    store.save_samples(b"abcd", 4, 2.0)
    assert store.load_samples() == b"abcd"
    store.record_model("m.joblib", "ff", "hist_gradient_boosting", 5.0, {"auc": 0.6})
    assert store.latest_model() == ("m.joblib", "ff")
    store.add_alert(1.0, "error", "scan", "boom")
    assert store.recent_alerts()[0][3] == "boom"


# -- schema versions ---------------------------------------------------------------------------


def user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def test_a_new_store_has_the_current_schema_version(tmp_path: Path) -> None:
    Store(tmp_path / "s.sqlite").close()
    assert user_version(tmp_path / "s.sqlite") == schema_version(MIGRATIONS) >= 1
    assert not list(tmp_path.glob("*.bak"))


def test_an_empty_file_is_a_new_store(tmp_path: Path) -> None:
    (tmp_path / "s.sqlite").write_bytes(b"")
    store = Store(tmp_path / "s.sqlite")
    assert store.positions() == [] and store.next_cycle() == 1
    store.close()
    assert user_version(tmp_path / "s.sqlite") == schema_version(MIGRATIONS)
    assert not list(tmp_path.glob("*.bak"))


def test_a_store_from_before_schema_versions_is_backed_up_and_migrated(tmp_path: Path) -> None:
    path = tmp_path / "tui_bot.sqlite"
    shutil.copy(DATA / "v0_tui_bot.sqlite", path)
    before = row_counts(path)
    assert user_version(path) == 0 and before["positions"] == 5 and before["trades"] == 9
    store = Store(path)
    assert len(store.positions()) == 5 and len(store.trades()) == 9
    assert store.get_state("cycle") == "30"
    store.close()
    assert user_version(path) == schema_version(MIGRATIONS)
    after = row_counts(path)
    assert {table: after[table] for table in before} == before  # every row kept
    backup = tmp_path / "tui_bot.sqlite.v0.bak"
    assert user_version(backup) == 0 and row_counts(backup) == before
    stamp = backup.stat().st_mtime_ns
    Store(path).close()  # current now: opened as it is, the backup left alone
    assert backup.stat().st_mtime_ns == stamp


def test_the_venue_state_from_before_schema_versions_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "sim_exchange.sqlite"
    shutil.copy(DATA / "v0_sim_exchange.sqlite", path)
    state = _StateStore(path)
    balances, orders = state.load()
    state.close()
    assert len(orders) == 23 and balances["USDT"][0] > 0
    assert user_version(path) == 1
    assert user_version(tmp_path / "sim_exchange.sqlite.v0.bak") == 0


def test_a_migration_step_runs_once_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """How a later schema change is made: append a step (and change SCHEMA to match)."""
    path = tmp_path / "tui_bot.sqlite"
    shutil.copy(DATA / "v0_tui_bot.sqlite", path)
    steps = [*MIGRATIONS, (2, "ALTER TABLE trades ADD COLUMN note TEXT")]
    monkeypatch.setattr(store_module, "MIGRATIONS", steps)
    Store(path).close()
    Store(path).close()  # a second open must not run the step again (it would fail)
    assert user_version(path) == 2
    db = sqlite3.connect(path)
    assert "note" in [row[1] for row in db.execute("PRAGMA table_info(trades)")]
    db.close()


def test_a_failed_migration_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tui_bot.sqlite"
    shutil.copy(DATA / "v0_tui_bot.sqlite", path)
    before = row_counts(path)
    steps = [
        (1, "ALTER TABLE trades ADD COLUMN note TEXT"),
        (2, "ALTER TABLE no_such_table ADD COLUMN x TEXT"),
    ]
    monkeypatch.setattr(store_module, "MIGRATIONS", steps)
    with pytest.raises(StorageError, match="no_such_table"):
        Store(path)
    assert user_version(path) == 0 and row_counts(path) == before  # one transaction: all or none
    db = sqlite3.connect(path)
    assert "note" not in [row[1] for row in db.execute("PRAGMA table_info(trades)")]
    db.close()


def test_a_store_from_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "tui_bot.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {schema_version(MIGRATIONS) + 2}")
    db.close()
    before = path.read_bytes()
    known = schema_version(MIGRATIONS)
    with pytest.raises(StorageError) as refused:
        Store(path)
    assert str(refused.value) == (
        f"{path} was written by a newer tui-bot (schema {known + 2}, this one knows {known}): "
        "upgrade tui-bot or set [storage] dir to another folder"
    )
    assert path.read_bytes() == before
