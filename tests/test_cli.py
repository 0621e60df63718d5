"""The command line, run as a user would: real processes, real files."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tui_bot.config import load_settings
from tui_bot.engine.outcome import exit_rules

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--set", "sim.latency_ms=0", "--set", "scan.top_n=10"]


def tui_bot(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 180):
    return subprocess.run(
        [sys.executable, "-m", "tui_bot", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "config.toml").write_text((ROOT / "config.toml").read_text())
    return tmp_path


@pytest.mark.slow
def test_headless_json_prints_one_object_per_cycle(workdir: Path) -> None:
    result = tui_bot("run", "--headless", "--cycles", "3", "--json", *FAST, cwd=workdir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    cycles = [json.loads(line) for line in lines]
    expected = {
        "cycle", "time", "mode", "exchange", "equity", "drawdown_pct", "phases", "caches",
        "positions", "opportunities", "orders_placed", "alerts", "timings", "model",
        "balance_stale", "unmanaged", "performance", "performance_today", "requests",
    }  # fmt: skip
    assert set(cycles[0]) == expected
    assert cycles[0]["requests"] is None  # the simulator has no request weight
    assert cycles[0]["balance_stale"] is False and cycles[0]["unmanaged"] == []
    assert [c["cycle"] for c in cycles] == [1, 2, 3]
    assert cycles[0]["mode"] == "SIMULATED"
    assert set(cycles[0]["caches"]) == {
        "market_scan",
        "indicators",
        "ml_prediction",
        "symbol_group",
    }
    assert cycles[1]["caches"]["market_scan"]["hits"] == 1
    assert set(cycles[0]["model"]) == {
        "kind", "trained_at", "samples", "label", "validation_auc", "validation_auc_ci",
        "validation_rows", "validation_expectancy_pct", "log_loss", "constant_log_loss",
        "live_auc", "live_auc_ci", "live_rows", "live_expectancy_pct", "calibration", "trades",
        "win_rate", "net_pnl", "verdict", "verdict_reason", "blocking",
    }  # fmt: skip
    assert cycles[0]["model"]["verdict"] in ("EDGE", "NO EDGE", "NOT ENOUGH DATA")
    assert (workdir / "data" / "tui_bot.sqlite").exists()


def test_invalid_value_exits_2_and_leaves_the_file_untouched(workdir: Path) -> None:
    config = workdir / "config.toml"
    text = config.read_text().replace("check_interval = 60", "check_interval = -5")
    config.write_text(text)
    result = tui_bot("run", "--headless", "--cycles", "1", cwd=workdir)
    assert result.returncode == 2
    assert "check_interval" in result.stderr and "-5" in result.stderr
    assert "config.toml" in result.stderr
    assert config.read_text() == text


def test_config_check_shows_sources(workdir: Path) -> None:
    result = tui_bot(
        "config", "check", "--set", "scan.top_n=7", cwd=workdir,
        env={"MAX_PARALLEL_WORKERS": "3"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "scan.max_parallel_workers = 3  (env MAX_PARALLEL_WORKERS)" in out
    assert "scan.top_n = 7  (flag)" in out
    assert "scan.cache_duration = 300  (file" in out
    assert "warning" in out.lower() or "warning" in result.stderr.lower()  # 3 < recommended 5


def test_config_check_exits_2_on_a_broken_file(workdir: Path) -> None:
    (workdir / "config.toml").write_text("[scan\ncache_duration = 300\n")
    result = tui_bot("config", "check", cwd=workdir)
    assert result.returncode == 2
    assert "config.toml" in result.stderr


def test_unknown_key_suggests_the_right_one(workdir: Path) -> None:
    config = workdir / "config.toml"
    config.write_text(config.read_text().replace("cache_duration = 300", "cache_duraton = 300"))
    result = tui_bot("config", "check", cwd=workdir)
    assert result.returncode == 2
    assert "cache_duration" in result.stderr


def test_engine_never_imports_textual() -> None:
    code = (
        "import sys, tui_bot.engine.cycle, tui_bot.runtime, tui_bot.cli, tui_bot.exchange.sim;"
        "bad = [m for m in sys.modules if m.split('.')[0] == 'textual'];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_train_trains_once_then_retrains_from_saved_samples(workdir: Path) -> None:
    import sqlite3

    first = tui_bot("train", *FAST, cwd=workdir)
    assert first.returncode == 0, first.stderr
    horizon = exit_rules(load_settings(None, env={}), 300).horizon  # the label's, in candles
    rows = 10 * (1000 - 40 - horizon)  # top_n symbols x (history - indicator warm-up - horizon)
    assert first.stdout.startswith(f"trained hist_gradient_boosting on {rows} samples")
    second = tui_bot("train", *FAST, cwd=workdir)
    assert second.returncode == 0, second.stderr
    assert "on 5000 samples" in second.stdout  # only the saved_samples most important persist
    db = sqlite3.connect(workdir / "data" / "tui_bot.sqlite")
    assert db.execute("SELECT COUNT(*) FROM models").fetchone()[0] == 2  # no double training
    db.close()


# `tui-bot ... | head`: once the reader has gone, exit quietly with 141, as a tool killed by
# SIGPIPE does (128 + 13; what a shell with `set -o pipefail` reports for `yes | head -1`).
BROKEN_PIPE_EXIT = 141


def test_config_check_into_a_closed_pipe_exits_quietly(workdir: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written: every write fails
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tui_bot", "config", "check"],
            cwd=workdir,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert result.returncode == BROKEN_PIPE_EXIT, result.stderr
    assert result.stderr == ""


@pytest.mark.slow
def test_headless_run_into_a_closed_pipe_stops_cleanly(workdir: Path) -> None:
    with open(workdir / "stderr.txt", "w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tui_bot", "run", "--headless", "--json", *FAST],
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())  # `| head -1`
        proc.stdout.close()
        assert proc.wait(timeout=120) == BROKEN_PIPE_EXIT
    finally:
        proc.kill()
        proc.wait()
    log = (workdir / "stderr.txt").read_text()
    assert "Traceback" not in log and "BrokenPipeError" not in log, log
    db = sqlite3.connect(workdir / "data" / "tui_bot.sqlite")
    saved = dict(db.execute("SELECT key, value FROM state").fetchall())
    db.close()
    # It stopped after the first cycle it could not print (one more may sit unread in the pipe).
    assert first["cycle"] < int(saved["cycle"]) <= first["cycle"] + 2
    assert float(saved["clock_time"]) > first["time"]  # saved on the way out
