"""Screens pushed over the dashboard: settings, help, confirmation."""
