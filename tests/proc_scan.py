"""Processes seen through /proc (Linux): who is whose child, who is still alive."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Proc:
    """One process as seen once; equal to another sighting of the same process."""

    pid: int
    start: int  # clock ticks after boot: with the pid, names one process even if the pid is reused
    ppid: int = field(compare=False)
    state: str = field(compare=False)
    cmdline: str = field(compare=False)

    def environ(self) -> dict[str, str]:
        """Its environment at start; empty if it cannot be read (gone, or another user's)."""
        try:
            raw = (PROC / str(self.pid) / "environ").read_bytes()
        except OSError:
            return {}
        pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
        return {k.decode(errors="replace"): v.decode(errors="replace") for k, _, v in pairs}


def read_proc(pid: int) -> Proc | None:
    """The process `pid`, or None if there is none."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
        cmdline = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the name in parentheses may hold spaces
    return Proc(
        pid=pid,
        ppid=int(fields[1]),
        state=fields[0],
        start=int(fields[19]),
        cmdline=cmdline.replace(b"\0", b" ").decode(errors="replace").strip(),
    )


def all_procs() -> list[Proc]:
    found = (read_proc(int(entry.name)) for entry in PROC.iterdir() if entry.name.isdigit())
    return [proc for proc in found if proc is not None]


def descendants(pid: int) -> list[Proc]:
    """Every living process below `pid` (children, their children, ...)."""
    procs = all_procs()
    below: list[Proc] = []
    parents = {pid}
    while True:
        found = [p for p in procs if p.ppid in parents and p not in below and is_alive(p)]
        if not found:
            return below
        below += found
        parents = {p.pid for p in found}


def is_alive(proc: Proc) -> bool:
    """True while this very process runs (a zombie or a reused pid does not count)."""
    now = read_proc(proc.pid)
    return now is not None and now.start == proc.start and now.state != "Z"


def kill_all(procs: list[Proc]) -> None:
    for proc in procs:
        if is_alive(proc):
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except OSError:
                pass


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    """Polls `condition` until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


def describe(procs: list[Proc]) -> str:
    return "; ".join(f"pid {p.pid} (parent {p.ppid}): {p.cmdline[:200]}" for p in procs)
