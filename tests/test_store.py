from pathlib import Path

from tui_bot.store import PositionRow, Store


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
