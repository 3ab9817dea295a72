"""The settlement flows' helpers (tests/settlements/flows.py, a plugin of the whole suite)."""

from .flows import FILES, paid_order, upload

__all__ = ["FILES", "paid_order", "upload"]
