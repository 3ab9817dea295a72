"""One module per real file format; `PARSERS` maps API.md's provider names to them."""

from __future__ import annotations

from . import adyen, amazon, generic, paypal, stripe
from .base import Parser

PARSERS: dict[str, Parser] = {
    "stripe": stripe.parse,
    "amazon": amazon.parse,
    "paypal": paypal.parse,
    "adyen": adyen.parse,
    "generic": generic.parse,
}
