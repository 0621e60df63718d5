"""python -m tests.fake_exchange [--port N]: serve a fake Binance for trying the bot by hand."""

from .server import main

main()
