"""One module per real file format; `PARSERS` maps API.md's provider names to them."""

from __future__ import annotations

from . import adyen, amazon, bank_bai2, bank_csv, bank_mt940, camt053, generic, paypal, stripe
from .base import Parser

PARSERS: dict[str, Parser] = {
    "stripe": stripe.parse,
    "amazon": amazon.parse,
    "paypal": paypal.parse,
    "adyen": adyen.parse,
    "generic": generic.parse,
    "camt053": camt053.parse,
    "bai2": bank_bai2.parse,
    "mt940": bank_mt940.parse,
    "bank_csv": bank_csv.parse,
}
