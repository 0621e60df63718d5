"""The heavy numeric imports, done in a background thread while the start waits on the network.

scipy's filters and scikit-learn cost ~1.5 s of CPU together, none of it needed before the
first candles arrive. runtime.build_runtime starts `preload` once ccxt is imported; the code that
needs them calls `wait_for_preload()` first. The wait is what makes this safe: two threads
importing the same packages at once can deadlock on a circular import inside them ("deadlock
detected by _ModuleLock").
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Sequence

log = logging.getLogger(__name__)
HEAVY_MODULES = ("scipy.signal", "scipy.ndimage", "scipy.special", "sklearn.ensemble")

_done = threading.Event()
_done.set()  # nothing is being imported until preload() starts


def preload(modules: Sequence[str] = HEAVY_MODULES) -> None:
    """Import `modules` in a daemon thread; a no-op while an earlier preload still runs."""
    if not _done.is_set():
        return
    _done.clear()
    thread = threading.Thread(target=_import_all, args=(modules,), name="preload", daemon=True)
    thread.start()


def wait_for_preload() -> None:
    """Return once no preload is importing (at once when none was started)."""
    if not _done.is_set():  # the common case costs a flag check, not a lock
        _done.wait()


def _import_all(modules: Sequence[str]) -> None:
    try:
        for name in modules:
            importlib.import_module(name)
    except Exception as e:  # the code that needs the module imports it again and raises then
        log.debug("preloading failed: %s", e)
    finally:
        _done.set()
