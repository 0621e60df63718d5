"""Risk management: symbol groups, diversification limits, fractional Kelly sizing, drawdown."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tui_bot.engine.caches import PermanentCache
from tui_bot.engine.snapshot import Opportunity
from tui_bot.engine.words import Decision

GROUP_RULES: dict[str, tuple[str, ...]] = {
    "layer-1": (
        "BTC",
        "ETH",
        "SOL",
        "ADA",
        "AVAX",
        "DOT",
        "ATOM",
        "NEAR",
        "APT",
        "SUI",
        "TRX",
        "TON",
        "ALGO",
        "HBAR",
        "ICP",
        "SEI",
        "INJ",
    ),
    "layer-2": ("ARB", "OP", "MATIC", "POL", "IMX", "STRK", "MNT", "ZK", "METIS"),
    "defi": (
        "UNI",
        "AAVE",
        "MKR",
        "COMP",
        "CRV",
        "SNX",
        "LDO",
        "SUSHI",
        "1INCH",
        "DYDX",
        "GMX",
        "PENDLE",
        "JUP",
        "CAKE",
    ),
    "meme": ("DOGE", "SHIB", "PEPE", "FLOKI", "BONK", "WIF", "BOME", "MEME", "TRUMP"),
    "exchange": ("BNB", "OKB", "CRO", "KCS", "LEO", "GT", "HT"),
    "oracle": ("LINK", "PYTH", "BAND", "API3", "TRB"),
    "payments": ("XRP", "XLM", "LTC", "BCH", "DASH", "XMR"),
    "ai": ("FET", "RNDR", "RENDER", "TAO", "AGIX", "OCEAN", "WLD", "AKT"),
    "stablecoin": ("USDT", "USDC", "DAI", "FDUSD", "TUSD", "USDE"),
}
_BASE_TO_GROUP = {base: group for group, bases in GROUP_RULES.items() for base in bases}


def classify(symbol: str) -> str:
    """Group of a market symbol like "ETH/USDT" (or "ETH/USDT:USDT"); unknown -> "other"."""
    base = symbol.split("/", 1)[0].upper()
    return _BASE_TO_GROUP.get(base, "other")


class SymbolGroups:
    """symbol -> group through a permanent cache: the rule table never changes while we run."""

    def __init__(self) -> None:
        self.cache: PermanentCache[str, str] = PermanentCache()

    def group(self, symbol: str) -> str:
        return self.cache.get_or_compute(symbol, classify)


@dataclass(frozen=True)
class RiskLimits:
    max_open_positions: int
    max_per_group: int
    max_position_pct: float
    kelly_fraction: float
    max_drawdown_pct: float
    min_probability: float
    min_order_quote: float = 10.0


def drawdown_pct(equity: float, peak: float) -> float:
    if peak <= 0:
        return 0.0
    return max(0.0, (peak - equity) / peak * 100.0)


def win_loss_ratio(pnl_pcts: Sequence[float], default: float, min_each: int = 5) -> float:
    """Average win / average loss from closed trades; `default` until there are enough of each."""
    wins = [p for p in pnl_pcts if p > 0]
    losses = [-p for p in pnl_pcts if p < 0]
    if len(wins) < min_each or len(losses) < min_each:
        return default
    return (sum(wins) / len(wins)) / (sum(losses) / len(losses))


def kelly_fraction(probability: float, win_loss: float) -> float:
    """Full Kelly f* = p - (1 - p) / b, clipped to [0, 1]."""
    if win_loss <= 0:
        return 0.0
    return min(1.0, max(0.0, probability - (1.0 - probability) / win_loss))


def position_size(
    equity: float, probability: float, win_loss: float, drawdown: float, limits: RiskLimits
) -> float:
    """Quote amount to stake: fractional Kelly, capped, scaled down linearly with drawdown."""
    kelly = kelly_fraction(probability, win_loss) * limits.kelly_fraction
    capped = min(kelly, limits.max_position_pct / 100.0)
    scale = max(0.0, 1.0 - drawdown / limits.max_drawdown_pct)
    return max(0.0, equity * capped * scale)


@dataclass(frozen=True)
class Candidate:
    symbol: str
    probability: float
    score: float


def evaluate(
    candidates: Iterable[Candidate],
    open_symbols: Sequence[str],
    groups: SymbolGroups,
    equity: float,
    cash: float,
    drawdown: float,
    win_loss: float,
    limits: RiskLimits,
    blocked: str | None = None,
) -> list[Opportunity]:
    """Decide, best score first, which candidates to buy; give every other one its reason.

    `blocked`: why no trading is possible at all (e.g. the API key was refused): nothing is bought.
    """
    open_count = len(open_symbols)
    per_group: dict[str, int] = {}
    for symbol in open_symbols:
        g = groups.group(symbol)
        per_group[g] = per_group.get(g, 0) + 1
    kill = drawdown >= limits.max_drawdown_pct
    result: list[Opportunity] = []
    for c in sorted(candidates, key=lambda c: c.score, reverse=True):
        group = groups.group(c.symbol)
        size = 0.0
        decision = Decision.SKIP
        if blocked is not None:
            reason = f"blocked: {blocked}"
        elif kill:
            reason = f"kill switch (drawdown {drawdown:.1f}%)"
        elif c.symbol in open_symbols:
            reason = "already open"
        elif c.probability < limits.min_probability:
            reason = f"probability < {limits.min_probability:.2f}"
        elif open_count >= limits.max_open_positions:
            reason = f"max positions ({limits.max_open_positions})"
        elif per_group.get(group, 0) >= limits.max_per_group:
            reason = f"group limit ({group} {limits.max_per_group}/{limits.max_per_group})"
        else:
            size = min(position_size(equity, c.probability, win_loss, drawdown, limits), cash)
            if size < limits.min_order_quote:
                reason = "size too small" if cash >= limits.min_order_quote else "no cash"
                size = 0.0
            else:
                decision, reason = Decision.BUY, ""
                open_count += 1
                per_group[group] = per_group.get(group, 0) + 1
                cash -= size
        result.append(Opportunity(c.symbol, group, c.score, c.probability, decision, reason, size))
    return result
