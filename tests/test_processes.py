"""No process outlives the bot: a SIGKILLed `tui-bot run` leaves no trainer or tracker behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from proc_scan import Proc, descendants, describe, is_alive, kill_all, read_proc, wait_until

from tui_bot.engine.model import ProcessTrainer

FAST = ["--set", "sim.speed=600", "--set", "scan.top_n=8", "--set", "sim.symbols=16"]


def trainer_workers(family: list[Proc]) -> list[Proc]:
    return [p for p in family if "spawn_main" in p.cmdline]


@pytest.mark.slow
def test_sigkill_of_a_headless_run_leaves_no_process(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_bot", "run", "--headless", "--config", "config.toml", *FAST],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    family: list[Proc] = []
    try:
        assert wait_until(lambda: trainer_workers(descendants(proc.pid)), timeout=120), (
            "the bot never started its training worker"
        )
        family = descendants(proc.pid)  # the worker and multiprocessing's resource tracker
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        wait_until(lambda: not any(is_alive(p) for p in family), timeout=15)
        survivors = [p for p in family if is_alive(p)]
        assert not survivors, f"alive 15 s after the bot was killed: {describe(survivors)}"
    finally:
        proc.kill()
        proc.wait()
        kill_all(family)


LEAKY_TESTS = """
import subprocess
import threading
from pathlib import Path


def test_leaves_a_child() -> None:
    child = subprocess.Popen(["sleep", "300"])
    Path("child.pid").write_text(str(child.pid))


def test_leaves_an_orphan() -> None:
    subprocess.run(["sh", "-c", "sleep 300 & echo $! > orphan.pid"], check=True)
"""


@pytest.mark.slow
def test_the_suite_fails_when_a_test_leaves_a_process_behind(tmp_path: Path) -> None:
    (tmp_path / "test_leaky.py").write_text(LEAKY_TESTS)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "leak_check", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    pids = [int((tmp_path / name).read_text()) for name in ("child.pid", "orphan.pid")]
    sleeps = [p for p in map(read_proc, pids) if p is not None and p.cmdline == "sleep 300"]
    try:
        assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
        assert "2 passed" in result.stdout
        for test, pid in zip(("test_leaves_a_child", "test_leaves_an_orphan"), pids, strict=True):
            assert f"LEFT BEHIND (killed now) by test_leaky.py::{test}: pid {pid} " in (
                result.stdout
            )
        assert not [p for p in sleeps if is_alive(p)], "the leaked processes were not killed"
    finally:
        kill_all(sleeps)


@pytest.mark.slow
async def test_the_training_worker_outlives_the_thread_that_started_it() -> None:
    """The dashboard starts the worker from its engine thread (Linux's PR_SET_PDEATHSIG would
    kill the worker when that thread ends); it must live as long as its process."""
    trainer = ProcessTrainer()
    started: list[int] = []
    try:
        thread = threading.Thread(target=lambda: started.append(asyncio.run(trainer.worker_pid())))
        thread.start()
        thread.join()
        assert await trainer.worker_pid() == started[0]
    finally:
        trainer.close()
