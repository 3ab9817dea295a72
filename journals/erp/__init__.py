"""ERP delivery: one module per target, each an `ErpAdapter` (base.py) that delivers one
balanced `ErpJournal` and says what came of it. Which ERP a legal entity posts to is
configuration: its name here."""

from __future__ import annotations

from .base import Credentials, Delivery, ErpAdapter, ErpJournal, ErpLine
from .dynamics365 import Dynamics365
from .netsuite import NetSuite
from .odoo import Odoo
from .oracle_erp import OracleErp
from .sap_s4 import SapS4

ADAPTERS: dict[str, ErpAdapter] = {
    adapter.name: adapter for adapter in (Dynamics365(), NetSuite(), Odoo(), SapS4(), OracleErp())
}


def adapter_for(name: str) -> ErpAdapter:
    try:
        return ADAPTERS[name]
    except KeyError:
        known = ", ".join(sorted(ADAPTERS))
        raise KeyError(f"no ERP adapter {name!r} (known: {known})") from None


__all__ = [
    "ADAPTERS",
    "Credentials",
    "Delivery",
    "ErpAdapter",
    "ErpJournal",
    "ErpLine",
    "adapter_for",
]
