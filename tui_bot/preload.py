"""The heavy numeric imports, done in a background thread while the start waits on the network.

scipy's filters and scikit-learn cost ~1.5 s of CPU together, none of it needed before the
first candles arrive. runtime.build_runtime starts `preload` once ccxt is imported; the code that
needs them calls `wait_for_preload(...)` first, naming what it needs. The wait is what makes
this safe: two threads importing the same packages at once can deadlock on a circular import
inside them ("deadlock detected by _ModuleLock").
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Sequence

log = logging.getLogger(__name__)
FILTER_MODULES = ("scipy.signal", "scipy.ndimage", "scipy.special")  # indicators, predictions
HEAVY_MODULES = (*FILTER_MODULES, "sklearn.ensemble")  # and training

_changed = threading.Condition()
_pending: list[str] = []  # what the running preload has still to import, in order


def preload(modules: Sequence[str] = HEAVY_MODULES) -> None:
    """Import `modules` in a daemon thread; a no-op while an earlier preload still runs."""
    with _changed:
        if _pending:
            return
        _pending.extend(modules)
    thread = threading.Thread(target=_import_all, args=(modules,), name="preload", daemon=True)
    thread.start()


def wait_for_preload(*modules: str) -> None:
    """Return once the running preload has imported `modules` (all of its modules when none
    are named), at once when no preload runs. A caller that needs only scipy's filters goes on
    while scikit-learn still imports: it touches modules that are imported already."""
    if not _pending:  # the common case costs a check, not a lock
        return
    with _changed:
        _changed.wait_for(lambda: not any(m in _pending for m in modules or _pending))


def _import_all(modules: Sequence[str]) -> None:
    try:
        for name in modules:
            importlib.import_module(name)
            _imported(name)
    except Exception as e:  # the code that needs the module imports it again and raises then
        log.debug("preloading failed: %s", e)
    finally:
        with _changed:
            _pending.clear()
            _changed.notify_all()


def _imported(name: str) -> None:
    with _changed:
        _pending.remove(name)
        _changed.notify_all()
