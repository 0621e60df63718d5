"""Where trials run: `local` (joblib's loky worker processes on this machine) or `dask` (a
dask.distributed cluster of any size). Both ship the sweep's data once per worker and yield
results as trials finish, in any order; the trials decide the results, not the backend.

A worker that dies mid-trial (killed, out of memory):
- local: loky then breaks the whole pool, failing every trial in flight. The pool is restarted
  and those trials run again, one at a time until they are cleared, so the one that killed its
  worker is known: it is retried once, and fails only if it kills a worker running alone again.
- dask: the scheduler moves the trial to another worker by itself, up to the cluster's
  distributed.scheduler.allowed-failures times (1 on a cluster tui-bot starts; dask's default
  is 3), then the trial fails with KilledWorker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import threading
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import replace
from typing import Any, Protocol

from tui_bot.errors import RefusedToStart
from tui_bot.sweep.data import SweepData
from tui_bot.sweep.trial import (
    Trial,
    TrialResult,
    TrialRunner,
    error_text,
    failed,
    install,
    run_installed,
    worker_facts,
)

BACKENDS = ("local", "dask")
THREAD_ENV = {  # a worker's libraries read these at import: one thread each
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
DIED = "its worker process died running it, twice (killed, or out of memory)"
CLUSTER_INSTALL = "pip install 'tui-bot[cluster]'"


class Backend(Protocol):
    name: str

    @property
    def workers(self) -> int: ...

    def start(self, data: SweepData) -> None: ...

    def results(self, trials: Sequence[Trial], runner: TrialRunner) -> Iterator[TrialResult]: ...

    def close(self) -> None: ...


def default_jobs() -> int:
    return os.cpu_count() or 1


def trial_bytes(trial: Trial) -> int:
    """What one trial ships to a worker (its id and values), pickled."""
    return len(pickle.dumps(trial))


def make_backend(name: str, jobs: int | None, scheduler: str | None) -> Backend:
    if jobs is not None and jobs < 1:
        raise RefusedToStart(f"--jobs {jobs}: give at least 1")
    if name == "local":
        if scheduler:
            raise RefusedToStart("--scheduler is for --backend dask; add --backend dask")
        return LocalBackend(jobs or default_jobs())
    if name == "dask":
        return DaskBackend(scheduler, jobs)
    raise RefusedToStart(f"--backend {name}: unknown; use one of {', '.join(BACKENDS)}")


# -- local: loky --------------------------------------------------------------------------------
class LocalBackend:
    """joblib's loky processes. The data goes to each worker once, as its initializer's
    argument; at most `jobs` trials are in flight, so each one has a worker of its own."""

    name = "local"

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self._data: SweepData | None = None
        self._executor: Any = None

    @property
    def workers(self) -> int:
        return self.jobs

    def start(self, data: SweepData) -> None:
        self._data = data
        self._executor = self._new_executor()

    def _new_executor(self) -> Any:
        from joblib.externals.loky import ProcessPoolExecutor

        return ProcessPoolExecutor(
            max_workers=self.jobs,
            initializer=install,
            initargs=(self._data, os.getpid()),
            env=THREAD_ENV,
        )

    def results(self, trials: Sequence[Trial], runner: TrialRunner) -> Iterator[TrialResult]:
        from joblib.externals.loky.process_executor import TerminatedWorkerError

        assert self._data is not None, "start() first"
        queue: deque[Trial] = deque(trials)
        alone: deque[Trial] = deque()  # in flight when a worker died: rerun one at a time
        deaths: dict[int, int] = {}
        running: dict[Future[TrialResult], Trial] = {}
        while queue or alone or running:
            self._submit(queue, alone, running, runner)
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            lost: list[Trial] = []
            for future in done:
                trial = running.pop(future)
                try:
                    result = future.result()
                except TerminatedWorkerError:
                    lost.append(trial)
                except Exception as error:
                    yield failed(trial, error_text(error), deaths.get(trial.id, 0) + 1)
                else:
                    yield replace(result, attempts=deaths.get(trial.id, 0) + 1)
            if lost:
                lost += self._drain(running)  # the pool is broken: every trial in it failed
                yield from self._after_death(lost, deaths, alone)
                self._restart()

    def _submit(
        self,
        queue: deque[Trial],
        alone: deque[Trial],
        running: dict[Future[TrialResult], Trial],
        runner: TrialRunner,
    ) -> None:
        """Fill the pool up to `jobs` trials; a trial to rerun alone only once it is empty."""
        assert self._data is not None
        if alone:
            picked = [alone.popleft()] if not running else []
        else:
            picked = [queue.popleft() for _ in range(min(len(queue), self.jobs - len(running)))]
        for trial in picked:
            running[self._executor.submit(run_installed, self._data.key, trial, runner)] = trial

    def _drain(self, running: dict[Future[TrialResult], Trial]) -> list[Trial]:
        wait(running)
        lost = list(running.values())
        running.clear()
        return lost

    def _after_death(
        self, lost: list[Trial], deaths: dict[int, int], alone: deque[Trial]
    ) -> Iterator[TrialResult]:
        """Charge the death to every trial that was in flight; one that died running alone
        for the second time fails, the others run again, alone."""
        for trial in lost:
            deaths[trial.id] = deaths.get(trial.id, 0) + 1
            if len(lost) == 1 and deaths[trial.id] >= 2:
                yield failed(trial, DIED, deaths[trial.id])
            else:
                alone.append(trial)

    def _restart(self) -> None:
        self._executor.shutdown(wait=True, kill_workers=True)
        self._executor = self._new_executor()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, kill_workers=True)
            self._executor = None


# -- dask ------------------------------------------------------------------------------------------
class DaskBackend:
    """A dask.distributed Client on `scheduler` (tcp://HOST:PORT); without one, a LocalCluster
    of `jobs` worker processes on 127.0.0.1 that lives as long as the sweep. The data goes to
    every worker once, in a worker plugin (dask_worker.py); each task names it by its key."""

    name = "dask"

    def __init__(self, scheduler: str | None, jobs: int | None) -> None:
        self.scheduler = scheduler
        self.jobs = jobs
        self._client: Any = None
        self._cluster: Any = None
        self._key = ""  # the data's key, and so its plugin's name
        self._futures: list[Any] = []
        self.warnings: list[str] = []

    @property
    def workers(self) -> int:
        if self._client is None:
            return 0
        return len(self._client.nthreads())

    def start(self, data: SweepData) -> None:
        try:
            import dask

            # distributed ships type hints, but not for LocalCluster, Client or as_completed
            from distributed import Client, LocalCluster
        except ImportError:
            raise RefusedToStart(
                f"--backend dask needs dask and distributed: {CLUSTER_INSTALL}"
            ) from None
        logging.getLogger("distributed").setLevel(logging.WARNING)  # not a line per connection
        if self.scheduler is None:
            with dask.config.set({"distributed.scheduler.allowed-failures": 1}), _no_ctrl_c():
                self._cluster = LocalCluster(  # type: ignore[no-untyped-call]  # not annotated
                    n_workers=self.jobs or default_jobs(),
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address="127.0.0.1:0",  # its HTTP server on loopback only
                    env=THREAD_ENV,
                )
            self._client = Client(self._cluster)  # type: ignore[no-untyped-call]  # not annotated
        else:
            self._client = _connect(Client, self.scheduler)
        self._check_workers()
        from tui_bot.sweep.dask_worker import SweepDataPlugin

        self._key = data.key
        self._client.register_plugin(SweepDataPlugin(data))

    def _check_workers(self) -> None:
        from importlib.metadata import version

        mine = version("tui-bot")
        try:
            facts = self._client.run(worker_facts)
        except ModuleNotFoundError:
            raise RefusedToStart(
                f"{self.scheduler}: a worker has no tui-bot installed; install the same "
                f"tui-bot version ({mine}) on every worker machine"
            ) from None
        if not facts:
            raise RefusedToStart(
                f"{self.scheduler}: the scheduler has no worker; start some with "
                f"`dask worker {self.scheduler} --nthreads 1` on each machine"
            )
        other = {address: f["tui_bot"] for address, f in facts.items() if f["tui_bot"] != mine}
        if other:
            first = next(iter(other))
            raise RefusedToStart(
                f"worker {first} has tui-bot {other[first]}, this is {mine}: install the same "
                "version on every worker (results must not depend on the machine)"
            )
        threads = self._client.nthreads()
        if any(n > 1 for n in threads.values()):
            self.warnings.append(
                "some dask workers have several threads; each runs one trial at a time: start "
                "them with `dask worker ... --nthreads 1 --nworkers N` to use every core"
            )

    def results(self, trials: Sequence[Trial], runner: TrialRunner) -> Iterator[TrialResult]:
        from distributed import KilledWorker, as_completed

        from tui_bot.sweep.dask_worker import run_on_dask

        sweep = uuid.uuid4().hex[:8]  # task names of their own, on a cluster others use too
        by_future = {}
        for trial in trials:
            key = f"tui-bot-{sweep}-trial-{trial.id}"
            future = self._client.submit(run_on_dask, self._key, trial, runner, key=key)
            by_future[future] = trial
        self._futures = list(by_future)
        for future in as_completed(by_future):  # type: ignore[no-untyped-call]  # not annotated
            trial = by_future[future]
            try:
                yield future.result()
            except KilledWorker:
                yield failed(trial, DIED, 2)
            except Exception as error:
                yield failed(trial, error_text(error))

    def close(self) -> None:
        if self._client is not None:
            unfinished = [f for f in self._futures if not f.done()]
            if unfinished and self._cluster is None:  # Ctrl-C: someone's cluster stops for us
                self._client.cancel(unfinished)
            if self._key:
                from tui_bot.sweep.dask_worker import plugin_name

                with contextlib.suppress(Exception):  # the workers drop their copy
                    self._client.unregister_worker_plugin(plugin_name(self._key))
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


@contextlib.contextmanager
def _no_ctrl_c() -> Iterator[None]:
    """Processes started inside ignore SIGINT (an ignored signal stays ignored in a child):
    Ctrl-C in the terminal reaches the whole process group, and the sweep, not each worker,
    decides how to stop."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _connect(client_class: Any, address: str) -> Any:
    try:
        return client_class(address, timeout="10s")
    except (OSError, TimeoutError) as error:
        raise RefusedToStart(
            f"--scheduler {address}: cannot connect ({error}); start one with `dask scheduler` "
            "and give its tcp://HOST:PORT"
        ) from None
