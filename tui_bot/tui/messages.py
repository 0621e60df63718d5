"""Typed messages from the engine worker thread to the dashboard."""

from __future__ import annotations

from textual.message import Message

from tui_bot.engine.snapshot import Snapshot


class SnapshotArrived(Message):
    """A new engine snapshot. Replaceable: a slow terminal only ever draws the newest one."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotArrived)


class EngineFailed(Message):
    """The engine stopped with an error; `retry_in` is the backoff before a restart (None: no
    restart, the error needs the user)."""

    def __init__(self, error: str, retry_in: float | None, at: float | None = None) -> None:
        super().__init__()
        self.error = error
        self.retry_in = retry_in
        self.at = at  # on the engine's clock


class EngineNotice(Message):
    """Something the user should know about how the engine was built (e.g. paper, not live)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
