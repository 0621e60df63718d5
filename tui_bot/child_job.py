"""A job in a child process of the dashboard (a backtest, a sweep): a "spawn" child (a clean
interpreter, no copy of the dashboard's threads or terminal) that sends its updates through a
queue the screen polls with a timer, ends with one final update, and can be cancelled at any
time. No textual here."""

from __future__ import annotations

import multiprocessing
import os
import queue
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from multiprocessing.queues import Queue

U = TypeVar("U")


def ensure_resource_tracker() -> None:
    """The queue's lock needs multiprocessing's resource tracker, and starting the tracker
    hands it sys.stderr's file descriptor. Under Textual sys.stderr has none (fileno() is -1:
    "bad value(s) in fds_to_keep"), so the tracker is started with the process's real stderr."""
    from multiprocessing import resource_tracker

    shown = sys.stderr
    sys.stderr = sys.__stderr__ or shown
    try:
        resource_tracker.ensure_running()
    finally:
        sys.stderr = shown


class ChildJob(Generic[U]):
    """`main(parent_pid, *args, updates_queue)` in a child process. start(), then poll() until
    it returns a final update (one of `final`); stop() asks the child to end (SIGTERM),
    cancel() ends it now (SIGTERM, then SIGKILL after `stop_wait` seconds)."""

    def __init__(
        self,
        main: Callable[..., None],
        args: tuple[Any, ...],
        *,
        name: str,
        daemon: bool,
        final: tuple[type, ...],
        lost: Callable[[int | None], U],
        stop_wait: float,
    ) -> None:
        ensure_resource_tracker()
        context = multiprocessing.get_context("spawn")
        self._updates: Queue[U] = context.Queue()
        self._process = context.Process(
            target=main, args=(os.getpid(), *args, self._updates), name=name, daemon=daemon
        )
        self._final = final
        self._lost = lost  # the update for a child that ended without a final one (exit code)
        self._stop_wait = stop_wait
        self.ended = False  # a final update was returned, or cancel() was called

    def start(self) -> None:
        self._process.start()

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def alive(self) -> bool:
        """The child process still exists (it may linger briefly after its last update)."""
        return self._process.is_alive()

    def poll(self) -> list[U]:
        """What arrived since the last poll; never blocks. A child that ended without a final
        update (killed, crashed) gives one `lost` update."""
        if self.ended:
            return []
        exited = not self._process.is_alive()  # before draining: all it sent is queued by now
        updates: list[U] = []
        while not self.ended:
            try:
                update = self._updates.get_nowait()
            except queue.Empty:
                break
            updates.append(update)
            self.ended = isinstance(update, self._final)
        if exited and not self.ended:
            updates.append(self._lost(self._process.exitcode))
            self.ended = True
        if self.ended:
            self._updates.close()
        return updates

    def stop(self) -> None:
        """Ask the child to stop (SIGTERM); it may still send its final update."""
        if self._process.is_alive():
            self._process.terminate()

    def cancel(self) -> None:
        """End the child now (SIGTERM, then SIGKILL if it does not go) and wait for it."""
        self.ended = True
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(self._stop_wait)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._updates.close()
