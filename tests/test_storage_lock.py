"""One bot per data folder: a second `tui-bot` on a folder in use refuses, naming the first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from proc_scan import descendants, kill_all

import tui_bot.tui
from tui_bot import cli
from tui_bot.config import Settings
from tui_bot.errors import StorageError, StorageLocked
from tui_bot.storage_lock import LOCK_FILE, storage_lock

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--set", "sim.latency_ms=0", "--set", "scan.top_n=10"]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "config.toml").write_text((ROOT / "config.toml").read_text())
    return tmp_path


@pytest.fixture
def held(workdir: Path) -> Iterator[Path]:
    """The workdir's storage dir, locked by this test process."""
    with storage_lock(workdir / "data"):
        yield workdir / "data"


def test_a_second_holder_is_refused_with_the_pid_and_the_folder(tmp_path: Path) -> None:
    with storage_lock(tmp_path) as path:
        with pytest.raises(StorageLocked) as refused, storage_lock(tmp_path):
            pass
        assert path.read_text() == f"{os.getpid()}\n"  # the refused one did not wipe it
    message = str(refused.value)
    assert f"PID {os.getpid()}" in message and str(tmp_path) in message
    assert "\n" not in message


def test_the_lock_is_free_once_its_holder_is_done(tmp_path: Path) -> None:
    with storage_lock(tmp_path):
        pass
    with storage_lock(tmp_path) as path:
        assert path == tmp_path / LOCK_FILE


def test_a_storage_dir_that_is_a_file_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("")
    with pytest.raises(StorageError) as refused, storage_lock(tmp_path / "data"):
        pass
    assert str(tmp_path / "data") in str(refused.value)


@pytest.mark.parametrize("command", [["run", "--headless", "--cycles", "1"], ["train"]])
def test_run_and_train_refuse_a_folder_in_use(
    workdir: Path, held: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*command, "--config", str(workdir / "config.toml"), *FAST]) == 2
    err = capsys.readouterr().err
    assert f"PID {os.getpid()}" in err and str(held) in err
    assert not (held / "tui_bot.sqlite").exists()  # refused before touching anything


def test_config_check_needs_no_lock(workdir: Path, held: Path) -> None:
    assert cli.main(["config", "check", "--config", str(workdir / "config.toml")]) == 0


def test_the_dashboard_refuses_before_it_opens_and_holds_the_lock_while_open(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    opened: list[Settings] = []

    def fake_dashboard(settings: Settings, verbose: bool = False, live: bool = False) -> int:
        opened.append(settings)
        with pytest.raises(StorageLocked), storage_lock(settings.storage_dir):
            pass  # held for the whole dashboard run
        return 0

    monkeypatch.setattr(tui_bot.tui, "run_dashboard", fake_dashboard)
    config = str(workdir / "config.toml")
    assert cli.main(["ui", "--config", config]) == 0
    assert len(opened) == 1
    with storage_lock(workdir / "data"):
        assert cli.main(["ui", "--config", config]) == 2
    assert len(opened) == 1
    assert f"PID {os.getpid()}" in capsys.readouterr().err


def start_bot(workdir: Path, *args: str, stderr: int = subprocess.PIPE) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tui_bot", *args, *FAST],
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def stop(proc: subprocess.Popen[str]) -> None:
    """Kill `proc` and everything it started."""
    if proc.poll() is None:
        children = descendants(proc.pid)
        proc.kill()
        proc.wait()
        kill_all(children)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


@pytest.mark.slow
def test_a_second_run_on_a_running_bots_folder_refuses_naming_its_pid(workdir: Path) -> None:
    first = start_bot(workdir, "run", "--headless", "--json", stderr=subprocess.DEVNULL)
    second: subprocess.Popen[str] | None = None
    try:
        assert first.stdout is not None
        assert first.stdout.readline(), "the first bot printed no cycle"
        second = start_bot(workdir, "run", "--headless", "--cycles", "1")
        out, err = second.communicate(timeout=180)
        assert second.returncode == 2, out + err
        assert f"PID {first.pid}" in err and str(workdir / "data") in err
        assert "Traceback" not in err
        children = descendants(first.pid)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=60)
        kill_all(children)
        with storage_lock(workdir / "data"):  # the kernel released it with the killed process
            pass
    finally:
        stop(first)
        if second is not None:
            stop(second)


@pytest.mark.slow
def test_the_dashboard_on_a_folder_in_use_exits_2_before_opening(workdir: Path, held: Path) -> None:
    ui = start_bot(workdir, "ui")
    try:
        out, err = ui.communicate(timeout=120)
        assert ui.returncode == 2, out + err
        assert f"PID {os.getpid()}" in err and str(held) in err
        assert "\x1b[" not in out  # the dashboard never drew
    finally:
        stop(ui)
