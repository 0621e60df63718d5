"""Engine hosting for the dashboard: the engine runs in one Textual thread worker with its own
asyncio loop; snapshots come back as replaceable messages; a failure becomes an alert and the
engine is rebuilt with backoff. The App subclass supplies the display hooks."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Protocol

from textual.app import App
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from tui_bot.config import Settings
from tui_bot.engine import commands as cmd
from tui_bot.engine.snapshot import Snapshot
from tui_bot.engine.words import AlertLevel
from tui_bot.errors import RefusedToStart
from tui_bot.stdio import point_at_devnull
from tui_bot.tui.messages import EngineFailed, EngineNotice, SnapshotArrived

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0
# After SIGTERM / SIGHUP: how long the engine may take to finish its phase and save, then how
# long the app gets to exit normally before the process ends itself (its terminal may be gone).
SIGNAL_ENGINE_WAIT = 120.0
SIGNAL_EXIT_GRACE = 3.0
TERMINAL_CHECK_SECONDS = 1.0  # how often the dashboard looks whether its terminal is still there


class EngineLike(Protocol):
    def submit(self, command: cmd.Command) -> None: ...
    def request_stop(self) -> None: ...
    async def start(self) -> None: ...
    async def run(self) -> None: ...


class RuntimeLike(Protocol):
    @property
    def engine(self) -> EngineLike: ...
    async def close(self) -> None: ...


SnapshotSink = Callable[[Snapshot], None]
RuntimeFactory = Callable[[Settings, SnapshotSink], RuntimeLike]


def default_runtime(
    settings: Settings, on_snapshot: SnapshotSink, live: bool = False
) -> RuntimeLike:
    from tui_bot.runtime import build_runtime  # imports numpy / sklearn: inside the worker thread

    return build_runtime(settings, on_snapshot=on_snapshot, live=live)


class EngineHostApp(App[int]):
    """Starts, feeds, stops and restarts the engine. Subclasses draw what happens."""

    def __init__(
        self,
        settings: Settings,
        runtime_factory: RuntimeFactory = default_runtime,
        *,
        start_engine: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
        backoff: float = 1.0,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.engine: EngineLike | None = None
        self.snapshot: Snapshot | None = None
        self.engine_speed = 1.0  # engine-clock seconds per wall second (the simulator's: 60)
        self._runtime_factory = runtime_factory
        self._start_engine_on_mount = start_engine
        self._monotonic = monotonic
        self._backoff = backoff
        self._failures = 0
        self._cycle_at_failure = -1
        self._received = 0.0
        self._quitting = False
        self._want_paused = False
        self._engine_worker: Worker[None] | None = None
        self._restart_timer: Timer | None = None
        self._engine_idle = threading.Event()  # no engine lifetime is running
        self._engine_idle.set()
        self._stop_signal = threading.Event()  # SIGTERM or SIGHUP arrived
        self._app_loop: asyncio.AbstractEventLoop | None = None

    # -- display hooks -----------------------------------------------------------------------
    def show_snapshot(self, snapshot: Snapshot) -> None: ...
    def show_engine_starting(self) -> None: ...
    def show_engine_failed(self, error: str, retry_in: float | None) -> None: ...
    def add_alert(
        self, level: AlertLevel, source: str, text: str, when: float | None = None
    ) -> None: ...

    # -- lifecycle ---------------------------------------------------------------------------
    def start_engine(self) -> None:
        if self._quitting:
            return
        self._restart_timer = None
        self.show_engine_starting()
        self._engine_idle.clear()
        self._engine_worker = self.run_worker(
            self._engine_lifetime,
            name="engine",
            group="engine",
            description="trading engine",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    async def _engine_lifetime(self) -> None:
        """One engine lifetime, in the worker thread on its own asyncio loop."""
        try:
            await self._run_engine()
        finally:
            self._engine_idle.set()

    async def _run_engine(self) -> None:
        runtime = self._runtime_factory(self.settings, self._post_snapshot)
        try:
            notice = getattr(runtime, "notice", None)
            if notice:
                self.post_message(EngineNotice(str(notice)))
            engine = runtime.engine
            self.engine = engine
            if self._want_paused:
                engine.submit(cmd.Pause())
            if self._quitting:
                engine.request_stop()
            await engine.start()
            # numpy / sklearn / the model are loaded now and live for the whole run: freezing
            # them keeps full garbage collections (40-120 ms pauses of the UI) short.
            gc.freeze()
            await engine.run()
        finally:
            self.engine = None
            await runtime.close()  # persists state; runs on stop and on failure alike

    def _post_snapshot(self, snapshot: Snapshot) -> None:
        """Called by the engine, in the worker thread."""
        try:
            self.post_message(SnapshotArrived(snapshot))
        except RuntimeError:  # the app's loop is closing
            pass

    def stop_engine(self) -> None:
        """Ask the engine to stop after the current phase (no waiting) and not to restart."""
        self._quitting = True
        if self._restart_timer is not None:
            self._restart_timer.stop()
        engine = self.engine
        if engine is not None:
            engine.request_stop()

    def install_signal_handlers(self) -> None:
        """SIGTERM, and SIGHUP when the terminal goes (closed, SSH dropped, tmux session killed):
        quit as `q` does (finish the phase, persist, exit), and exit even if the terminal is gone.

        Not loop.add_signal_handler: its callback runs on the app's loop, and that loop is stuck
        for good once the terminal is gone (Textual's writer thread dies on EIO and the next
        writes wait for it). A signal.signal handler runs in the main thread even then; a thread
        does the rest."""
        if self.is_headless:
            return
        self._app_loop = asyncio.get_running_loop()
        threading.Thread(target=self._exit_on_signal, name="signal-exit", daemon=True).start()
        terminal = _terminal_fd()
        if terminal is not None:
            watch = threading.Thread(
                target=self._watch_terminal, args=(terminal,), name="terminal-watch", daemon=True
            )
            watch.start()
        for name in ("SIGTERM", "SIGHUP"):
            sig = getattr(signal, name, None)  # no SIGHUP on Windows
            if sig is not None:
                with contextlib.suppress(ValueError):  # not the main thread
                    signal.signal(sig, self._on_stop_signal)

    def _on_stop_signal(self, signum: int, _frame: object) -> None:
        """In the main thread, maybe in the middle of anything: only sets things."""
        if signum == getattr(signal, "SIGHUP", None):
            # The terminal has hung up: a write to it fails (EIO, which ends Textual's writer
            # thread) or blocks; from now on writes go nowhere.
            point_at_devnull(1, 2)
        self._stop_signal.set()

    def _watch_terminal(self, fd: int) -> None:
        """The terminal can go without a SIGHUP for us: under `make run` the hangup goes to
        make (the session leader), which then waits for its child. A terminal that is gone
        answers tcgetattr with EIO: take that as the SIGHUP."""
        import termios

        while not self._stop_signal.wait(TERMINAL_CHECK_SECONDS):
            try:
                termios.tcgetattr(fd)
            except termios.error:
                log.warning("the terminal is gone: stopping as on SIGHUP")
                self._on_stop_signal(signal.SIGHUP, None)
                return

    def _exit_on_signal(self) -> None:
        """In its own thread: stop the engine, let it save, then make sure the process ends."""
        self._stop_signal.wait()
        log.info("stop signal: stopping the engine after its current phase")
        self._quitting = True  # no engine (re)start from now on
        engine = self.engine
        if engine is not None:
            engine.request_stop()
        if not self._engine_idle.wait(SIGNAL_ENGINE_WAIT):
            log.error("the engine did not stop within %gs; exiting without it", SIGNAL_ENGINE_WAIT)
        self._call_on_app_loop(self.exit, 0)  # the normal way out, if the app's loop still runs
        time.sleep(SIGNAL_EXIT_GRACE)
        log.warning("the dashboard could not shut down normally (terminal gone?); exiting now")
        logging.shutdown()
        os._exit(0)

    def _call_on_app_loop(self, callback: Callable[..., object], *args: object) -> None:
        if self._app_loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                self._app_loop.call_soon_threadsafe(callback, *args)

    def on_unmount(self) -> None:
        self.stop_engine()  # however the app ends, the engine thread must end too

    @property
    def engine_running(self) -> bool:
        return self._engine_worker is not None and not self._engine_worker.is_finished

    def submit(self, command: cmd.Command, quiet: bool = False) -> bool:
        """Send a command to the engine (thread-safe on the engine's side)."""
        engine = self.engine
        if engine is None:
            if not quiet:
                self.notify(
                    "The engine is not running right now; try again shortly.", severity="warning"
                )
            return False
        engine.submit(command)
        return True

    # -- messages ----------------------------------------------------------------------------
    def on_snapshot_arrived(self, message: SnapshotArrived) -> None:
        snapshot = message.snapshot
        self.snapshot = snapshot
        self._received = self._monotonic()
        if self._failures and snapshot.cycle > self._cycle_at_failure:
            self._failures = 0  # the engine completes cycles again: reset the backoff
        self.show_snapshot(snapshot)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker outcomes are handled: errors become alerts, never tracebacks."""
        if event.worker is not self._engine_worker:
            return
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        self.engine = None
        if self._quitting:
            self.exit(0)
            return
        if event.state == WorkerState.CANCELLED:
            return
        error = event.worker.error
        retry: float | None
        if error is None:
            text, retry = "the engine stopped by itself", self._next_backoff()
        else:
            log.error("engine failed", exc_info=error)
            text = f"{type(error).__name__}: {error}"
            retry = None if isinstance(error, RefusedToStart) else self._next_backoff()
        self.post_message(EngineFailed(text, retry, self.engine_time()))

    def on_engine_failed(self, message: EngineFailed) -> None:
        again = f" (restarting in {message.retry_in:g}s)" if message.retry_in is not None else ""
        self.add_alert(AlertLevel.ERROR, "engine", message.error + again, message.at)
        self.show_engine_failed(message.error, message.retry_in)
        if message.retry_in is not None and not self._quitting:
            self._restart_timer = self.set_timer(message.retry_in, self.start_engine)

    def on_engine_notice(self, message: EngineNotice) -> None:
        self.add_alert(AlertLevel.WARNING, "engine", message.text)
        self.notify(message.text, severity="warning", timeout=10, markup=False)

    # -- helpers -----------------------------------------------------------------------------
    def _next_backoff(self) -> float:
        delay = min(MAX_BACKOFF, self._backoff * 2.0**self._failures)
        self._failures += 1
        self._cycle_at_failure = self.snapshot.cycle if self.snapshot is not None else -1
        return delay

    def engine_time(self) -> float:
        """Now on the engine's clock (the simulator's runs faster than the wall)."""
        if self.snapshot is None:
            return time.time()
        elapsed = (self._monotonic() - self._received) * self.engine_speed
        return float(self.snapshot.time + elapsed)


def _terminal_fd() -> int | None:
    """A descriptor of the terminal the dashboard draws on, of its own (point_at_devnull moves
    1 and 2 away when the terminal goes); None without one (or without termios)."""
    try:
        import termios  # noqa: F401 - not on Windows
    except ImportError:
        return None
    for fd in (1, 0):
        if os.isatty(fd):
            return os.dup(fd)
    return None
