"""Command line: the dashboard (default), `run --headless`, `train`, `config check`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
from pathlib import Path

from tui_bot.config import ConfigError, Settings, describe, load_settings
from tui_bot.engine.snapshot import Snapshot
from tui_bot.errors import RefusedToStart
from tui_bot.stdio import point_at_devnull
from tui_bot.storage_lock import storage_lock

log = logging.getLogger("tui_bot")

COMMANDS = ("ui", "run", "train", "config", "download-data", "backtest", "sweep")
# stdout's reader has gone (`tui-bot ... | head`): the code of a tool that SIGPIPE ended (128 + 13)
BROKEN_PIPE_EXIT = 141


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tui-bot",
        description=__doc__,
        epilog="With no command, `tui-bot [ui options]` opens the dashboard: "
        "tui-bot --config PATH --set SECTION.KEY=VALUE --live (see tui-bot ui --help)",
    )
    sub = parser.add_subparsers(dest="command")
    ui = sub.add_parser("ui", help="open the dashboard (the default with no command)")
    _live_flag(ui)
    _common(ui)
    run = sub.add_parser("run", help="run the trading cycle")
    run.add_argument("--headless", action="store_true", help="no dashboard: print each cycle")
    run.add_argument("--cycles", type=int, default=None, help="stop after N cycles")
    run.add_argument("--json", action="store_true", help="one JSON object per cycle on stdout")
    _live_flag(run)
    _common(run)
    train = sub.add_parser("train", help="retrain the model now and exit")
    _common(train)
    config = sub.add_parser("config", help="configuration tools")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    check = config_sub.add_parser("check", help="print the effective config and its sources")
    _common(check)
    _download_parser(sub)
    from tui_bot.backtest.command import add_parser as add_backtest_parser

    add_backtest_parser(sub, _common)
    from tui_bot.sweep.command import add_parser as add_sweep_parser

    add_sweep_parser(sub, _common)
    return parser


def _download_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    download = sub.add_parser(
        "download-data",
        help="fetch candles from an exchange into candle files (for backtests)",
        description="Fetch the last N days of closed candles through ccxt into "
        "<BASE>_<QUOTE>-<timeframe>.csv.gz files; only candles a file lacks are fetched.",
    )
    download.add_argument("--exchange", default=None, help="ccxt exchange id ([exchange] name)")
    download.add_argument(
        "--pairs", required=True, metavar="P1,P2", help="pairs, e.g. ADA/BTC,ETH/BTC or ADA_BTC"
    )
    download.add_argument("--timeframe", default=None, help="candle length (scan.timeframe)")
    download.add_argument("--days", type=float, default=30.0, help="how far back (30)")
    download.add_argument(
        "--data", type=Path, default=None, help="folder of candle files (<storage.dir>/candles)"
    )
    _common(download)


def _live_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--live",
        action="store_true",
        help='real orders on a real exchange: also needs [exchange] mode = "live" and '
        "TUI_BOT_API_KEY / TUI_BOT_API_SECRET in the environment; otherwise paper trading",
    )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None, help="config file (./config.toml)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one setting (beats config file and environment); repeatable",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")


def main(argv: list[str] | None = None) -> int:
    """The command line; a closed stdout (`| head`) ends it quietly, as SIGPIPE ends a tool."""
    try:
        code = _main(sys.argv[1:] if argv is None else argv)
        sys.stdout.flush()  # a reader that has gone shows here, not in a traceback at exit
        return code
    except BrokenPipeError:
        point_at_devnull(sys.stdout.fileno())
        return BROKEN_PIPE_EXIT


def _with_command(argv: list[str]) -> list[str]:
    """`tui-bot [options]` is `tui-bot ui [options]`: the dashboard is the default command."""
    if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help")):
        return argv
    return ["ui", *argv]


def _main(argv: list[str]) -> int:
    from tui_bot import redact

    redact.install()  # API secrets never reach a log line or a traceback
    args = build_parser().parse_args(_with_command(argv))
    if args.command == "ui":
        return _dashboard(args)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    settings = _settings(args)
    if settings is None:
        return 2
    for warning in settings.warnings:
        print(f"tui-bot: warning: {warning}", file=sys.stderr)
    if args.command == "config":
        print(describe(settings))
        return 0
    if args.command == "download-data":
        return _download_data(settings, args)
    if args.command == "backtest":  # nothing on disk: no storage lock
        from tui_bot.backtest.command import backtest_command

        if not args.verbose:  # the replay's own warnings (gaps, dust) would bury the progress
            log.setLevel(logging.ERROR)
        return backtest_command(settings, args)
    if args.command == "sweep":  # nothing on disk but --out and --apply-best: no storage lock
        from tui_bot.sweep.command import sweep_command

        if not args.verbose:
            log.setLevel(logging.ERROR)
        return sweep_command(settings, args)
    try:
        with storage_lock(settings.storage_dir):  # one bot per data folder, for the whole run
            if args.command == "train":
                return asyncio.run(_train(settings))
            return asyncio.run(_run_headless(settings, args.cycles, args.json, args.live))
    except RefusedToStart as e:  # a config, storage or second-instance fault: the user must act
        print(f"tui-bot: {e}", file=sys.stderr)
        return 2


def _download_data(settings: Settings, args: argparse.Namespace) -> int:
    from tui_bot.exchange.errors import ExchangeError
    from tui_bot.market.download import ProgressLine, download_data

    exchange = args.exchange or settings.exchange.name
    if exchange == "sim":
        print(
            "tui-bot: download-data: the simulator has no history to download; "
            "name a ccxt exchange, e.g. --exchange binance",
            file=sys.stderr,
        )
        return 2
    directory = args.data if args.data is not None else settings.storage_dir / "candles"
    timeframe = args.timeframe or settings.scan.timeframe
    pairs = [p for p in args.pairs.split(",") if p.strip()]
    progress = ProgressLine(sys.stderr)
    try:
        results = download_data(
            settings.exchange.ccxt_config, exchange, pairs, timeframe, args.days, directory,
            progress,
        )  # fmt: skip
    except RefusedToStart as e:
        progress.end()
        print(f"tui-bot: {e}", file=sys.stderr)
        return 2
    except (ExchangeError, KeyboardInterrupt) as e:
        progress.end()
        why = "interrupted" if isinstance(e, KeyboardInterrupt) else f"{exchange}: {e}"
        print(
            f"tui-bot: download-data: {why}; the files written are complete and the pair in "
            "progress is unchanged: run the same command again to continue",
            file=sys.stderr,
        )
        return 130 if isinstance(e, KeyboardInterrupt) else 1
    progress.end()
    for result in results:
        if result.total == 0:
            print(f"{result.symbol}: {exchange} has no candles in that time; nothing written")
            continue
        print(f"{result.symbol}: {result.added} new candles, {result.total} in {result.path}")
        for problem in result.problems:
            print(f"  {problem}")
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    """The dashboard. textual is imported only here, so the headless path never loads it."""
    settings = _settings(args)
    if settings is None:
        return 2
    try:
        with storage_lock(settings.storage_dir):  # held across the dashboard's engine restarts
            from tui_bot.tui import run_dashboard

            return run_dashboard(settings, verbose=args.verbose, live=args.live)
    except RefusedToStart as e:  # another bot has this folder: say so before the app opens
        print(f"tui-bot: {e}", file=sys.stderr)
        return 2


def _settings(args: argparse.Namespace) -> Settings | None:
    """The settings `--config` and `--set` ask for; None (said on stderr) if they are invalid."""
    try:
        return load_settings(args.config, overrides=_overrides(args.set))
    except ConfigError as e:
        print(f"tui-bot: invalid configuration:\n{e}", file=sys.stderr)
        return None


def _overrides(items: list[str]) -> dict[str, str]:
    result = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"tui-bot: --set needs SECTION.KEY=VALUE, got {item!r}")
        result[key.strip()] = value.strip()
    return result


async def _run_headless(
    settings: Settings, cycles: int | None, as_json: bool, live: bool = False
) -> int:
    from tui_bot.runtime import build_runtime

    runtime = build_runtime(settings, live=live)
    if runtime.notice:
        print(f"tui-bot: {runtime.notice}", file=sys.stderr)
    engine = runtime.engine
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # HUP: the terminal went away
        loop.add_signal_handler(sig, engine.request_stop)
    printer = _print_json if as_json else _print_line
    stdout_gone = False

    def print_cycle(snapshot: Snapshot) -> None:
        nonlocal stdout_gone
        try:
            printer(snapshot)
        except BrokenPipeError:  # `| head`: nobody reads on; stop cleanly, as on SIGTERM
            if not stdout_gone:
                log.info("stdout was closed: stopping after this cycle")
            stdout_gone = True
            point_at_devnull(sys.stdout.fileno())
            engine.request_stop()

    try:
        await engine.start()
        await engine.run(cycles, print_cycle)
    finally:
        await runtime.close()
    return BROKEN_PIPE_EXIT if stdout_gone else 0


async def _train(settings: Settings) -> int:
    from tui_bot.runtime import build_runtime

    runtime = build_runtime(settings)
    try:
        await runtime.engine.start()
        if not runtime.engine.bootstrapped:  # else start() has just trained one from history
            await runtime.engine.ml_training()
        model = runtime.engine.models.model
        if model is None:
            print("tui-bot: training failed; see the alerts above", file=sys.stderr)
            return 1
        m, edge = model.metrics, runtime.engine.edge()
        print(
            f"trained {model.kind} on {m.samples} samples: {edge.verdict}: {edge.reason}; "
            f"log loss {m.log_loss:.3f} vs {m.constant_log_loss:.3f} for a constant"
        )
    finally:
        await runtime.close()
    return 0


def _print_json(snapshot: Snapshot) -> None:
    print(json.dumps(snapshot.to_json()), flush=True)


def _print_line(snapshot: Snapshot) -> None:
    scan = snapshot.caches["market_scan"]
    total = sum(v for v in snapshot.phases.values() if v is not None)
    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(snapshot.time))
    auc = f"{snapshot.model.auc:.3f}" if snapshot.model.auc is not None else "-"
    print(
        f"cycle {snapshot.cycle:>4}  {stamp}  {snapshot.mode}  equity {snapshot.equity:,.2f}  "
        f"dd {snapshot.drawdown_pct:.2f}%  positions {len(snapshot.positions)}  "
        f"orders {snapshot.orders_placed}  scan hit {scan.hit_rate:.0%}  model AUC {auc}  "
        f"{total:.2f}s",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
