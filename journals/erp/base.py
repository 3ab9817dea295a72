"""What every ERP adapter takes and answers: one balanced journal entry as plain data.

The journals app turns a `JournalEntry` into an `ErpJournal` (accounts already mapped to the
ERP's ids, dimensions named as the legal entity's ERP knows them); an adapter in this package
delivers it and says what happened. Adapters know nothing of Django models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ErpLine:
    account: str  # the ERP's account id / code (main account, GL account, account_id ...)
    debit: Decimal  # ≥ 0, in the entry's currency; exactly one of debit/credit is non-zero
    credit: Decimal
    description: str = ""
    dimensions: Mapping[str, str] = field(
        default_factory=dict
    )  # cost_centre, department, location ...


@dataclass(frozen=True, slots=True)
class ErpJournal:
    idempotency_key: str  # stable per entry (and per reversal): a redelivery never posts twice
    legal_entity: str  # the ERP's company / subsidiary / company code / ledger id
    posting_date: date
    currency: str
    description: str
    reference: str  # our entry number, e.g. "JE-2026-11-000123"
    lines: tuple[ErpLine, ...]
    reversal_of: str = ""  # the ERP document id this entry reverses, when it is a reversal


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one attempt came to. `ok` with the ERP's document id; else `retry` (timeouts,
    5xx, throttling) or a refusal a person must fix (validation errors)."""

    ok: bool
    document_id: str = ""
    retry: bool = False
    error: str = ""
    request: str = ""  # what was sent (secrets removed), for the delivery log
    response: str = ""  # what came back


@dataclass(frozen=True, slots=True)
class Credentials:
    """Per legal entity, from the environment or the admin; never in the repository."""

    base_url: str
    values: Mapping[str, str]  # token, client id/secret, username/password, company ...
    timeout: float = 10.0


class ErpAdapter(Protocol):
    name: str  # "dynamics365", "netsuite", "odoo", "sap_s4", "oracle_erp", "csv", "beancount"

    def deliver(self, journal: ErpJournal, credentials: Credentials) -> Delivery: ...
