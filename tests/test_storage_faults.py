"""Storage faults: each is one line naming the path, what is wrong and what to do; never a
traceback. At start `tui-bot run` exits 2; mid-run the engine keeps the last committed state.

Permission faults cannot be made as root (root ignores file modes), so those runs drop to the
user `nobody` when the tests run as root; as any other user they run as that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import make_settings, row_counts

from tui_bot.clock import FakeClock
from tui_bot.engine import commands as cmd
from tui_bot.engine.model import InlineTrainer, TrainedModel, load_model, save_model
from tui_bot.errors import StorageError, StorageFull
from tui_bot.exchange.ledger import Ledger
from tui_bot.runtime import SIM_STATE_FILE, STORE_FILE, build_runtime
from tui_bot.store import Store

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"


# ------------------------------------------------------------------------------ helpers


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A temp dir that an unprivileged child process can write to."""
    base = Path(tempfile.mkdtemp(prefix="tui-bot-faults-"))
    base.chmod(0o777)
    try:
        yield base
    finally:
        for path in [base, *base.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                with contextlib.suppress(PermissionError):
                    path.chmod(0o777)
        shutil.rmtree(base, ignore_errors=True)


def unprivileged(action: Callable[[], object]) -> str:
    """Run `action` in a forked child as the user nobody (when the tests run as root; else as
    this user); return "ok" or the error it raised, as "ErrorType: message".

    A fork, not a new interpreter: the venv's Python may live where nobody cannot read it.
    """
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read)
            if os.geteuid() == 0:
                nobody = pwd.getpwnam("nobody")
                os.setgroups([])
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
            try:
                action()
                text = "ok"
            except BaseException as e:  # reported to the parent, which asserts on it
                text = f"{type(e).__name__}: {e}"
            os.write(write, text.encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, encoding="utf-8") as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    return text


def start_runtime(settings: Any) -> None:
    """What `tui-bot run` does before its first cycle: open the store and the exchange."""
    runtime = build_runtime(settings, trainer=InlineTrainer())
    runtime.store.close()


def assert_storage_error(text: str, *words: str) -> None:
    assert text.startswith("StorageError: "), text
    assert "\n" not in text, text
    for word in words:
        assert word in text, (word, text)


def run_bot(
    workdir: Path, setup: str = "", storage: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`tui-bot run --headless --cycles 1` with storage in `storage` (workdir/data), after
    `setup` (Python run first in the same process)."""
    storage = storage or workdir / "data"
    code = textwrap.dedent(setup) + textwrap.dedent(
        f"""
        import sys
        from tui_bot.cli import main
        sys.exit(main(["run", "--headless", "--cycles", "1", "--set", "storage.dir={storage}",
                       "--set", "sim.latency_ms=0", "--set", "scan.top_n=6"]))
        """
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=workdir,
        env={**os.environ, "HOME": str(workdir)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_refused(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 2, one message line on stderr (tui-bot: ...) with every word; no traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("tui-bot: ")]
    assert len(lines) == 1, result.stderr  # (log lines from the start may come before it)
    line = lines[0]
    for word in words:
        assert word in line, (word, line)
    return line


# ------------------------------------------------------------------------------ the storage dir


def test_a_storage_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    result = run_bot(tmp_path)
    assert_refused(result, str(tmp_path / "data"), "is a file, not a folder", "[storage] dir")
    assert (tmp_path / "data").read_text() == "not a folder"


def test_a_storage_dir_below_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("")
    storage = tmp_path / "blocker" / "data"
    result = run_bot(tmp_path, storage=storage)
    assert_refused(result, str(storage), f"{tmp_path / 'blocker'} is a file, not a folder")


def test_an_unwritable_storage_dir_is_refused(shared_dir: Path) -> None:
    settings = make_settings(shared_dir)
    storage = settings.storage_dir

    def attempt() -> None:
        storage.mkdir()
        storage.chmod(0o555)
        start_runtime(settings)

    assert_storage_error(unprivileged(attempt), str(storage), "not writable", "chmod")


def test_a_storage_dir_in_an_unwritable_parent_is_refused(shared_dir: Path) -> None:
    parent = shared_dir / "locked"
    settings = make_settings(shared_dir, **{"storage.dir": str(parent / "data")})

    def attempt() -> None:
        parent.mkdir()
        parent.chmod(0o555)
        start_runtime(settings)

    text = unprivileged(attempt)
    assert_storage_error(text, str(parent / "data"), "permission denied", str(parent))


# ------------------------------------------------------------------------------ the databases


@pytest.mark.parametrize("name", [STORE_FILE, SIM_STATE_FILE])
def test_a_read_only_database_is_refused(shared_dir: Path, name: str) -> None:
    settings = make_settings(shared_dir)
    path = settings.storage_dir / name

    def attempt() -> None:
        start_runtime(settings)  # makes the files
        path.chmod(0o444)
        start_runtime(settings)

    assert_storage_error(unprivileged(attempt), str(path), "read-only", f"chmod u+w {path}")


def _garbage_header(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.write(b"this is no database header!")


def _truncate(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


@pytest.mark.parametrize("damage", [_garbage_header, _truncate])
@pytest.mark.parametrize(
    ("name", "source"),
    [(STORE_FILE, "v0_tui_bot.sqlite"), (SIM_STATE_FILE, "v0_sim_exchange.sqlite")],
)
def test_a_damaged_database_is_refused_and_left_as_it_is(
    tmp_path: Path, name: str, source: str, damage: Callable[[Path], None]
) -> None:
    storage = tmp_path / "data"
    storage.mkdir()
    shutil.copy(DATA / "v0_tui_bot.sqlite", storage / STORE_FILE)
    shutil.copy(DATA / "v0_sim_exchange.sqlite", storage / SIM_STATE_FILE)
    path = storage / name
    damage(path)
    before = path.read_bytes()
    result = run_bot(tmp_path)
    assert_refused(result, str(path), "damaged", f"mv {path} {path}.corrupt and start again")
    assert path.read_bytes() == before  # never "repaired" or overwritten
    assert not path.with_name(name + ".v0.bak").exists()


def test_a_database_path_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data" / STORE_FILE).mkdir(parents=True)
    result = run_bot(tmp_path)
    assert_refused(result, str(tmp_path / "data" / STORE_FILE), "is a directory")


FULL_DISK = """
    import sqlite3
    connect = sqlite3.connect
    def tiny(*args, **kwargs):  # a disk with no room: SQLite cannot add a page
        db = connect(*args, **kwargs)
        db.execute("PRAGMA max_page_count = 1")
        return db
    sqlite3.connect = tiny
"""


def test_a_full_disk_at_start_is_refused(tmp_path: Path) -> None:
    result = run_bot(tmp_path, FULL_DISK)
    assert_refused(result, str(tmp_path / "data"), "disk is full", "free some space")


# ------------------------------------------------------------------------------ the model file


def test_a_model_file_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data" / "model.joblib").mkdir(parents=True)
    result = run_bot(tmp_path)
    path = tmp_path / "data" / "model.joblib"
    assert_refused(result, str(path), "is a directory, not a model file", "mv")
    assert path.is_dir()


def test_save_and_load_model_name_a_directory_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "model.joblib").mkdir()
    model = TrainedModel(None, "hist_gradient_boosting", (), 0.0, None)  # type: ignore[arg-type]
    with pytest.raises(StorageError, match="is a directory, not a model file"):
        save_model(model, tmp_path / "model.joblib")
    with pytest.raises(StorageError, match="is a directory, not a model file"):
        load_model(tmp_path / "model.joblib", "0" * 64)


# ------------------------------------------------------------------------------ a full disk


def _raw(db: Any) -> sqlite3.Connection:
    """The sqlite3 connection under a store's Database."""
    return db if isinstance(db, sqlite3.Connection) else db._db


def limit_to_current_size(db: Any) -> None:
    """Let the database grow no more, like a full disk (SQLite's max_page_count)."""
    raw = _raw(db)
    pages = raw.execute("PRAGMA page_count").fetchone()[0]
    raw.execute(f"PRAGMA max_page_count = {pages}")


def fill_equity_table(db: Any) -> None:
    """Copy the last equity point until the database is full: the engine's next point (of the
    same size) then cannot be written."""
    raw = _raw(db)
    with pytest.raises(sqlite3.OperationalError, match="full"):
        for _ in range(100_000):
            raw.execute("INSERT INTO equity SELECT * FROM equity ORDER BY rowid DESC LIMIT 1")


def lift_limit(db: Any) -> None:
    _raw(db).execute("PRAGMA max_page_count = 1073741823")


def test_a_full_disk_raises_storage_full_and_keeps_what_was_committed(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    store.set_state("cycle", 7)
    limit_to_current_size(store._db)
    with pytest.raises(StorageFull, match=r"s\.sqlite: cannot write: the disk is full"):
        for i in range(10_000):
            store.add_alert(float(i), "info", "test", "x" * 500)
    with pytest.raises(StorageFull), store.transaction():
        store.set_state("cycle", 8)
        store.save_samples(b"x" * 200_000, 1, 0.0)
    assert store.get_state("cycle") == "7"  # the failed transaction left nothing behind
    lift_limit(store._db)
    store.save_samples(b"x" * 200_000, 1, 0.0)  # space is back: writes work again
    assert store.load_samples() == b"x" * 200_000
    store.close()


def test_the_ledger_keeps_orders_it_could_not_save_and_saves_them_later(tmp_path: Path) -> None:
    clock = FakeClock(1_700_000_000.0)
    ledger = Ledger(
        name="sim", info={}, clock=clock, path=tmp_path / "l.sqlite", starting_balance=100.0,
        stake_currency="USDT",
    )  # fmt: skip
    limit_to_current_size(ledger._store._db)
    market = {"symbol": "BTC/USDT", "base": "BTC", "quote": "USDT"}
    orders = []
    with pytest.raises(StorageFull):
        for _ in range(1000):
            order = ledger.new_order(market, "limit", "buy", 1.0, 1.0, None)  # type: ignore[arg-type]
            order["info"] = {"pad": "x" * 2000}
            orders.append(order)
            ledger.add(order)
    lift_limit(ledger._store._db)
    ledger.save([])
    ledger.close()
    again = Ledger(
        name="sim", info={}, clock=clock, path=tmp_path / "l.sqlite", starting_balance=100.0,
        stake_currency="USDT",
    )  # fmt: skip
    assert set(again.orders) == {o["id"] for o in orders}
    again.close()


def _sim_runtime(tmp_path: Path, clock: FakeClock) -> Any:
    settings = make_settings(tmp_path)
    return build_runtime(settings, trainer=InlineTrainer(), clock=clock)


def _storage_alerts(engine: Any) -> list[str]:
    return [a.message for a in engine.alerts if a.source == "storage"]


async def test_a_full_disk_mid_run_stops_opening_and_resumes_when_space_returns(
    tmp_path: Path, clock: FakeClock
) -> None:
    runtime = _sim_runtime(tmp_path, clock)
    engine = runtime.engine
    try:
        await engine.start()
        await engine.run(2)
        db_path = runtime.store.path
        committed = row_counts(db_path)
        limit_to_current_size(runtime.store._db)
        limit_to_current_size(engine.exchange._ledger._store._db)
        fill_equity_table(runtime.store._db)  # the next equity point cannot fit
        snaps: list[Any] = []
        await engine.run(4, snaps.append)  # no exception: the engine carries on
        alerts = _storage_alerts(engine)
        assert len(alerts) == 1, alerts  # said once, not every cycle
        assert str(db_path) in alerts[0] and "disk is full" in alerts[0]
        assert "no new positions" in alerts[0]
        assert all(s.opportunities for s in snaps)
        assert not any(o.approved for s in snaps for o in s.opportunities), (
            "positions are still being opened on a full disk"
        )
        assert all(o.action.startswith("blocked") for s in snaps for o in s.opportunities)
        after = row_counts(db_path)
        assert after["positions"] <= committed["positions"]  # nothing opened, nothing lost
        assert after["trades"] >= committed["trades"]
        lift_limit(runtime.store._db)
        lift_limit(engine.exchange._ledger._store._db)
        await engine.run(2)
        alerts = _storage_alerts(engine)
        assert len(alerts) == 2 and "written again" in alerts[0], alerts
        assert row_counts(db_path)["equity"] > after["equity"]  # persisting again
        assert int(runtime.store.get_state("cycle") or 0) == engine._state.cycle
    finally:
        await runtime.close()


async def test_every_write_failing_mid_run_sends_no_order_and_never_crashes(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = _sim_runtime(tmp_path, clock)
    engine = runtime.engine
    store = runtime.store
    try:
        await engine.start()
        await engine.run(2)
        committed = row_counts(store.path)
        sent: list[str] = []
        create_order = engine.exchange.create_order

        async def counting_create_order(symbol: str, *args: Any, **kwargs: Any) -> Any:
            sent.append(symbol)
            return await create_order(symbol, *args, **kwargs)

        monkeypatch.setattr(engine.exchange, "create_order", counting_create_order)

        def full(*args: Any, **kwargs: Any) -> Any:
            raise StorageFull(f"{store.path}: cannot write: the disk is full")

        writes = [
            "set_state",
            "next_cycle",
            "add_pending_order",
            "mark_order",
            "transaction",
            "add_equity",
            "save_samples",
            "record_model",
            "add_alert",
            "probe_space",
        ]
        for name in writes:
            monkeypatch.setattr(store, name, full, raising=False)
        # a position that must be closed now: its exit cannot be recorded, so it is not sent
        if store.positions():
            engine.submit(cmd.ClosePosition(store.positions()[0].symbol))
        await engine.run(3)
        assert sent == []  # the pending row comes first: no row, no order
        assert len(_storage_alerts(engine)) == 1
        assert engine._state.cycle == 5  # counted on in memory
        monkeypatch.undo()
        assert row_counts(store.path) == committed
        await engine.run(1)
        assert int(store.get_state("cycle") or 0) == 6  # never reuses a number it handed out
        assert "written again" in _storage_alerts(engine)[0]
    finally:
        await runtime.close()


async def test_the_dashboard_shows_a_damaged_database_and_does_not_retry(tmp_path: Path) -> None:
    from tui_bot.tui.app import TuiBotApp
    from tui_bot.tui.widgets.alerts import AlertsTable

    settings = make_settings(tmp_path)
    settings.storage_dir.mkdir()
    path = settings.storage_dir / STORE_FILE
    path.write_bytes(b"no database here " * 100)
    starts: list[Any] = []

    def factory(settings: Any, on_snapshot: Callable[[Any], None]) -> Any:
        starts.append(settings)
        return build_runtime(settings, trainer=InlineTrainer(), on_snapshot=on_snapshot)

    app = TuiBotApp(settings, factory, monotonic=lambda: 0.0, backoff=0.01)
    async with app.run_test(size=(120, 40)) as pilot:
        alerts = app.query_one(AlertsTable)
        for _ in range(1500):
            if alerts.local:
                break
            await pilot.pause(0.02)
        for _ in range(10):  # time for a retry, were there one
            await pilot.pause(0.02)
        messages = [a.message for a in alerts.local]
        assert len(messages) == 1 and len(starts) == 1, messages
        assert f"{path}: the database is damaged" in messages[0]
        assert "restarting" not in messages[0]
    assert path.read_bytes() == b"no database here " * 100
