"""Shared fixtures: settings in a temp dir, a fake clock, an in-process trainer; and a check
that no process started by the tests outlives the session."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tui_bot.clock import FakeClock
from tui_bot.config import Settings, load_settings
from tui_bot.engine.model import InlineTrainer
from tui_bot.exchange.sim import sim_start_time

pytest_plugins = ["leak_check"]  # a process a test leaves behind fails the run


def make_settings(tmp_path: Path, **values: object) -> Settings:
    """Default settings with storage in tmp_path, a fast simulator, and `values` applied."""
    config = tmp_path / "config.toml"
    config.write_text("")
    base = load_settings(config, env={})
    fast = {
        "sim.latency_ms": 0.0,
        "sim.rate_limit_per_s": 100000.0,
        "scan.top_n": 12,
        "scan.candles": 120,
        "sim.symbols": 24,
        # these tests are about trading: the edge gate has tests of its own (test_edge_gate.py)
        "ml.require_edge": False,
    }
    return base.with_values({**fast, **values})


@pytest.fixture(autouse=True)
def logging_levels_restored() -> Iterator[None]:
    """A command run in process (cli.main) sets its loggers' levels for the life of its process,
    as a command should: here that life is the test's, so the levels are put back after it."""
    loggers = [logging.getLogger(), logging.getLogger("tui_bot")]
    levels = [lg.level for lg in loggers]
    yield
    for lg, level in zip(loggers, levels, strict=True):
        lg.setLevel(level)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(sim_start_time("5m"))


@pytest.fixture
def trainer() -> InlineTrainer:
    return InlineTrainer()


@pytest.fixture(scope="session")
def trained_storage(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], None]:
    """Copies a store + model trained once on the fake exchange's data into a storage dir, so
    tests of real-exchange runs do not each spend seconds on the start-up training."""
    import asyncio

    from fake_exchange import FakeBinance, bot_config

    from tui_bot.runtime import build_runtime

    source = tmp_path_factory.mktemp("trained")
    with FakeBinance() as server:
        (source / "config.toml").write_text(bot_config(server, "paper"))
        settings = load_settings(source / "config.toml", env={})

        async def train() -> None:
            runtime = build_runtime(settings, trainer=InlineTrainer(), env={})
            try:
                await runtime.engine.start()
            finally:
                await runtime.close()

        asyncio.run(train())
    store_file = source / "data" / "tui_bot_binance_paper.sqlite"
    model_file = source / "data" / "model_binance_paper.joblib"

    def copy_into(storage_dir: Path) -> None:
        storage_dir.mkdir(parents=True, exist_ok=True)
        for mode in ("paper", "live"):
            model = f"model_binance_{mode}.joblib"  # recorded relative to the data folder
            shutil.copy(model_file, storage_dir / model)
            target = storage_dir / f"tui_bot_binance_{mode}.sqlite"
            shutil.copy(store_file, target)
            db = sqlite3.connect(target)
            with db:
                db.execute("UPDATE models SET path = ?", (model,))
                db.execute("DELETE FROM alerts")
            db.close()

    return copy_into


def row_counts(path: Path) -> dict[str, int]:
    """Rows per table of a SQLite file, read with a connection of its own."""
    db = sqlite3.connect(path)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    finally:
        db.close()
