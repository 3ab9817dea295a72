"""Source adapters: one module per channel format, each exposing `parse(payload, headers)`."""

from __future__ import annotations

from importlib import import_module

from .base import Adapter

# Channel.source -> module in this package.
SOURCES = {
    "shopify": "shopify",
    "amazon": "amazon",
    "pos": "square",
    "magento": "magento",
    "woocommerce": "woocommerce",
    "canonical": "canonical",
}


def adapter_for(source: str) -> Adapter:
    module = import_module(f"{__name__}.{SOURCES[source]}")
    return module.parse  # type: ignore[no-any-return]
