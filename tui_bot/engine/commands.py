"""Commands the dashboard (or any driver) sends to the running engine, from any thread."""

from __future__ import annotations

from dataclasses import dataclass

from tui_bot.config import Settings


@dataclass(frozen=True)
class Pause:
    pass


@dataclass(frozen=True)
class Resume:
    pass


@dataclass(frozen=True)
class ScanNow:
    """Run a cycle now, bypassing the scan cache."""


@dataclass(frozen=True)
class RetrainNow:
    pass


@dataclass(frozen=True)
class ClosePosition:
    symbol: str


@dataclass(frozen=True)
class ApplySettings:
    settings: Settings


@dataclass(frozen=True)
class Stop:
    pass


Command = Pause | Resume | ScanNow | RetrainNow | ClosePosition | ApplySettings | Stop
