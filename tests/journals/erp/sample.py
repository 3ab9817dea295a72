"""Journals the adapters' tests send, with amounts worked out by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from journals.erp.base import ErpJournal, ErpLine

# A day's Shopify sales, worked out by hand: the customer paid 1,250.00; Shopify kept 36.25 in
# fees, so 1,213.75 waits in clearing. Debits 1,213.75 + 36.25 = 1,250.00 = the credit.
CLEARING, FEES, SALES = Decimal("1213.75"), Decimal("36.25"), Decimal("1250.00")


def sales_journal(
    *,
    key: str = "je-2026-11-000123-post",
    legal_entity: str = "usmf",
    accounts: tuple[str, str, str] = ("110180", "618100", "401100"),
    dimensions: dict[str, str] | None = None,
    currency: str = "USD",
) -> ErpJournal:
    dims = dimensions or {}
    clearing, fees, sales = accounts
    return ErpJournal(
        idempotency_key=key,
        legal_entity=legal_entity,
        posting_date=date(2026, 11, 25),
        currency=currency,
        description="Shopify sales 2026-11-25",
        reference="JE-2026-11-000123",
        lines=(
            ErpLine(clearing, CLEARING, Decimal(0), "Shopify clearing", dims),
            ErpLine(fees, FEES, Decimal(0), "Shopify fees", dims),
            ErpLine(sales, Decimal(0), SALES, "Shopify sales", dims),
        ),
    )
