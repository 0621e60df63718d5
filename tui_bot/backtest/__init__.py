"""Backtests: the live engine replayed over recorded candles (run), and their report."""
