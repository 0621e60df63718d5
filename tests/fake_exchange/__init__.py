"""A Binance-compatible exchange on 127.0.0.1 that the real ccxt client talks to."""

from .server import FAULT_KINDS, PAIRS, WEIGHTS, FakeBinance, Usage, bot_config, request_weight

__all__ = [
    "FAULT_KINDS",
    "PAIRS",
    "WEIGHTS",
    "FakeBinance",
    "Usage",
    "bot_config",
    "request_weight",
]
