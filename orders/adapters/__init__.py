"""Source adapters: one module per channel format, each exposing `parse(payload, headers)` and
`DELIVERIES` (how that source's deliveries say what they are). A format with more to read than
one module holds keeps a part beside it, named for that part (`shopify_payments`)."""

from __future__ import annotations

from functools import cache
from importlib import import_module
from types import ModuleType

from .base import Adapter, Deliveries

# Channel.source -> module in this package.
SOURCES = {
    "shopify": "shopify",
    "amazon": "amazon",
    "pos": "square",
    "magento": "magento",
    "woocommerce": "woocommerce",
    "canonical": "canonical",
}


@cache
def _module(source: str) -> ModuleType:
    return import_module(f"{__name__}.{SOURCES[source]}")


def adapter_for(source: str) -> Adapter:
    parse: Adapter = _module(source).parse
    return parse


def deliveries_for(source: str) -> Deliveries:
    deliveries: Deliveries = _module(source).DELIVERIES
    return deliveries
