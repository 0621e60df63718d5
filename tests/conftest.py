"""Shared fixtures: settings in a temp dir, a fake clock, an in-process trainer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_bot.clock import FakeClock
from tui_bot.config import Settings, load_settings
from tui_bot.engine.model import InlineTrainer
from tui_bot.exchange.sim import sim_start_time


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
    }
    return base.with_values({**fast, **values})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(sim_start_time("5m"))


@pytest.fixture
def trainer() -> InlineTrainer:
    return InlineTrainer()
