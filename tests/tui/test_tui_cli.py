"""`tui-bot` and `tui-bot ui` open the dashboard; the headless path never loads textual."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_config

import tui_bot.tui
from tui_bot import cli
from tui_bot.config import Settings

live_flags: list[bool] = []


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    calls: list[Settings] = []

    def fake_dashboard(settings: Settings, verbose: bool = False, live: bool = False) -> int:
        calls.append(settings)
        live_flags.append(live)
        return 0

    monkeypatch.setattr(tui_bot.tui, "run_dashboard", fake_dashboard)
    return calls


def test_no_arguments_opens_the_dashboard_on_the_local_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, opened: list[Settings]
) -> None:
    write_config(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert cli.main([]) == 0
    assert len(opened) == 1
    assert opened[0].path == Path("config.toml")
    assert opened[0].exchange.name == "sim"


def test_ui_takes_a_config_path_and_overrides(tmp_path: Path, opened: list[Settings]) -> None:
    config = write_config(tmp_path)
    assert cli.main(["ui", "--config", str(config), "--set", "scan.top_n=7"]) == 0
    assert opened[0].path == config and opened[0].scan.top_n == 7


def test_the_dashboard_options_work_without_the_ui_command(
    tmp_path: Path, opened: list[Settings]
) -> None:
    config = write_config(tmp_path)
    live_flags.clear()
    assert cli.main(["--config", str(config), "--set", "scan.top_n=7", "--live"]) == 0
    assert opened[0].path == config and opened[0].scan.top_n == 7
    assert live_flags == [True]


def test_ui_passes_the_live_flag(tmp_path: Path, opened: list[Settings]) -> None:
    config = write_config(tmp_path)
    live_flags.clear()
    assert cli.main(["ui", "--config", str(config)]) == 0
    assert cli.main(["ui", "--config", str(config), "--live"]) == 0
    assert live_flags == [False, True]


def test_ui_with_a_bad_config_exits_2_without_opening(
    tmp_path: Path, opened: list[Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, "[scan]\ncache_duration = -5\n")
    assert cli.main(["ui", "--config", str(config)]) == 2
    assert opened == []
    assert "cache_duration" in capsys.readouterr().err


def test_the_headless_run_never_imports_textual(tmp_path: Path) -> None:
    write_config(tmp_path)
    code = (
        "import sys; from tui_bot import cli;"
        "rc = cli.main(['config', 'check']);"
        "bad = [m for m in sys.modules if m.split('.')[0] == 'textual'];"
        "sys.exit(10 if bad else rc)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
