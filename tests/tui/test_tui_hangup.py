"""The terminal goes away (closed, SSH dropped, tmux session killed): the dashboard stops the
engine after its phase, saves, and exits, although nothing can be written to the terminal."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest
from proc_scan import Proc, descendants, describe, is_alive, kill_all, wait_until


def state(db_path: Path, key: str) -> float | None:
    if not db_path.exists():
        return None
    db = sqlite3.connect(db_path, timeout=10)
    try:
        row = db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
    except sqlite3.OperationalError:  # the tables are not made yet
        return None
    finally:
        db.close()
    return float(row[0]) if row else None


def drain(master: int, stop: threading.Event, tail: bytearray) -> None:
    """Reads the dashboard's output, as a terminal would, so its writes never fill the pty."""
    while not stop.is_set():
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                tail += os.read(master, 65536)
            except OSError:
                return
            del tail[:-2000]


def start_dashboard(
    tmp_path: Path, rows: int, cols: int
) -> tuple[subprocess.Popen[bytes], int, threading.Event, threading.Thread, bytearray]:
    """The dashboard on a pty of its own (not its controlling terminal: closing the master
    signals nobody), its output drained: (process, master, stop draining, reader, output tail)."""
    (tmp_path / "config.toml").write_text("")
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_bot", "ui", "--config", "config.toml"],
        cwd=tmp_path,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "TERM": "xterm-256color"},
        start_new_session=True,
    )
    os.close(slave)
    stop_draining = threading.Event()
    tail = bytearray()  # the last output, to show if the dashboard fails to start
    reader = threading.Thread(target=drain, args=(master, stop_draining, tail), daemon=True)
    reader.start()
    return proc, master, stop_draining, reader, tail


@pytest.mark.slow
@pytest.mark.parametrize(
    ("size", "sighup"), [((40, 120), True), ((24, 80), False)], ids=["sighup", "no-sighup"]
)
def test_the_terminal_going_saves_and_exits(
    tmp_path: Path, size: tuple[int, int], sighup: bool
) -> None:
    """Closing a terminal: the pty goes (writes to it fail) and SIGHUP comes. Or no SIGHUP
    comes: under `make run` the hangup goes to make (the session leader), which waits for its
    child. Found by closing tmux over `make run`: the bot ran on at 96 % CPU with nobody to
    see it. Here the pty is not the dashboard's controlling terminal (it was inherited, not
    opened by a session leader), so closing the master signals nobody, as under make."""
    db_path = tmp_path / "data" / "tui_bot.sqlite"
    proc, master, stop_draining, reader, tail = start_dashboard(tmp_path, *size)
    family: list[Proc] = []
    try:
        assert wait_until(lambda: (state(db_path, "cycle") or 0) >= 2, timeout=120), (
            f"the dashboard ran no cycle: {tail.decode(errors='replace')}"
        )
        family = descendants(proc.pid)
        clock_before = state(db_path, "clock_time")
        assert clock_before is not None
        stop_draining.set()
        reader.join()
        os.close(master)
        master = -1
        if sighup:
            os.kill(proc.pid, signal.SIGHUP)
        assert wait_until(lambda: proc.poll() is not None, timeout=60), (
            "the dashboard is still running 60 s after its terminal went"
        )
        assert proc.returncode == 0
        clock_after = state(db_path, "clock_time")
        assert clock_after is not None and clock_after > clock_before, "the engine did not save"
        wait_until(lambda: not any(is_alive(p) for p in family), timeout=15)
        survivors = [p for p in family if is_alive(p)]
        assert not survivors, f"alive after the dashboard exited: {describe(survivors)}"
    finally:
        stop_draining.set()
        if master >= 0:
            os.close(master)
        proc.kill()
        proc.wait()
        kill_all(family)
