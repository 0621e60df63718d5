"""Exchange errors the engine understands, whichever exchange raised them.

The ccxt adapter maps ccxt's exception classes onto these; the simulator raises them directly.
Messages never carry credentials.
"""

from __future__ import annotations


class ExchangeError(Exception):
    """Any error from an exchange."""

    answered = True  # False: the request got no HTTP answer (it may still reach the exchange)


class NetworkError(ExchangeError):
    """Transient: timeouts, dropped connections, 5xx, maintenance, malformed answers. Retry."""


class RequestTimeout(NetworkError):
    """The request may or may not have reached the exchange."""


class ClockSkew(NetworkError):
    """The exchange refused our request's timestamp (Binance -1021: outside its recvWindow).
    The message names the clock offset when it is known, and what to do about it."""


class RateLimited(NetworkError):
    """429 / 418 / DDoS protection. Back off for `retry_after` seconds when given."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthenticationError(ExchangeError):
    """Bad or missing API key, or not allowed. Stop trading, keep running."""


class InsufficientFunds(ExchangeError):
    """Not enough balance for this order."""


class InvalidOrder(ExchangeError):
    """Order rejected: below minimum, bad precision, duplicate client id, ..."""


class DuplicateClientOrderId(InvalidOrder):
    """An order with this client order id exists already: a retry of one that went through.
    Never a reason to give up on the order: look it up by that id."""


class OrderNotFound(ExchangeError):
    """No order with that id."""
