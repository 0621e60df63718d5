"""Sweeps: many backtests of the same data with different settings, on local worker processes
(joblib's loky) or on a dask.distributed cluster, each ranked in-sample and checked out of sample.

space.py (the space file and the trials), data.py (the split and the data shipped once per
worker), trial.py (one trial, run in a worker), backends.py (local and dask), runner.py (the
sweep loop), report.py (ranking, rank correlation, JSON, text), command.py (`tui-bot sweep`),
process.py (a sweep in a process of its own, for the dashboard). No textual here.
"""
