"""A pytest plugin: the run fails if a process started by a test outlives the session.

It counts this pytest's living descendants, and orphans (re-parented to PID 1 or a subreaper)
that carry this session's mark in their environment: other test sessions on the machine are not
counted.
"""

from __future__ import annotations

import os

import pytest
from proc_scan import (
    Proc,
    all_procs,
    descendants,
    describe,
    kill_all,
    read_proc,
    wait_until,
)

# Every process the tests start inherits this mark, so one that outlives its parent can be told
# from the processes of other test sessions on the same machine.
SESSION_MARK = "TUI_BOT_TEST_SESSION"
os.environ[SESSION_MARK] = str(os.getpid())
_alive_after: dict[Proc, str] = {}  # a process of this session -> the first test it outlived
_leftovers: list[Proc] = []


def pytest_runtest_logfinish(nodeid: str) -> None:
    """Notes which test a process was started by, to name it if the process outlives the run."""
    for proc in _started_here():
        _alive_after.setdefault(proc, nodeid)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fails the run if a process started by a test is still alive (then kills it)."""
    wait_until(lambda: not _started_here(), timeout=10)  # a just-killed bot's worker may linger
    _leftovers.extend(_started_here())
    if _leftovers:
        kill_all(_leftovers)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for proc in _leftovers:
        test = _alive_after.get(proc, "the session's set-up or teardown")
        terminalreporter.write_line(
            f"LEFT BEHIND (killed now) by {test}: {describe([proc])}", red=True
        )


def _started_here() -> list[Proc]:
    """Living processes of this session: this pytest's descendants (except its own resource
    tracker, which ends with it) and the orphans that carry this session's mark."""
    me = read_proc(os.getpid())
    assert me is not None
    ignored = {me.pid, _own_resource_tracker()}
    mine = [p for p in descendants(me.pid) if p.pid not in ignored]
    orphans = [
        p
        for p in all_procs()
        if p.start >= me.start
        and p.pid not in ignored
        and p not in mine
        and p.state != "Z"
        and p.environ().get(SESSION_MARK) == str(me.pid)
    ]
    return mine + orphans


def _own_resource_tracker() -> int | None:
    from multiprocessing import resource_tracker

    return getattr(resource_tracker._resource_tracker, "_pid", None)
