"""Faults the user has to fix before the bot can run.

The message is the whole user-facing text: the path (or key), what is wrong, what to do. The CLI
prints it and exits 2; the dashboard shows it and does not retry, since it will not heal by itself.
"""

from __future__ import annotations


class RefusedToStart(Exception):
    """The base of every fault that will not heal by itself (config, storage, a second instance)."""


class StorageError(RefusedToStart):
    """The storage dir, a database or a model file cannot be used as it is."""


class StorageLocked(StorageError):
    """Another tui-bot process holds the storage dir."""


class StorageFull(StorageError):
    """The disk (or the database's size limit) is full. Mid-run this heals when space returns:
    the engine stops opening positions and carries on."""
