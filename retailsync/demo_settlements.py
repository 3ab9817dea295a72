"""The demo's settlement files that are one table each (Stripe's, Amazon's, Adyen's and the
wholesale provider's CSV), written in the provider's own format (formats.md §3, §4, §6) from
plain figures: no ORM here, `retailsync.demo_payouts` reads the orders and says what each file
holds. PayPal's report and the bank statement, written record by record, are `demo_statements`.

The files are what the parsers in `settlements.parsers` read from the real providers, control
totals and trailers included, so the demo's uploads pass the checks a real one must. Nothing is
taken from a clock or a random source: the same orders give the same bytes, which is how a
second `seed_demo` recognises a file it imported before.
"""

from __future__ import annotations

import csv
import hashlib
import io
from base64 import b32encode
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

ZERO = Decimal(0)
Row = tuple[datetime, dict[str, str]]
Fee = tuple[str, Decimal, datetime]  # what the provider charged the account: text, amount, when


@dataclass(frozen=True)
class Item:
    """One order line as a marketplace itemises it (amounts positive, as charged)."""

    code: str
    sku: str
    quantity: int
    principal: Decimal
    tax: Decimal
    promotion: Decimal
    shipping: Decimal
    shipping_tax: Decimal
    commission: Decimal


@dataclass(frozen=True)
class Sale:
    """A payment the provider collected; `fee` is what it kept, positive as it writes it."""

    order_ref: str
    payment_ref: str
    gross: Decimal
    fee: Decimal
    at: datetime
    method: str = "visa"
    items: tuple[Item, ...] = ()


@dataclass(frozen=True)
class Reversal:
    """Money going back: a refund, or a chargeback with the provider's `fee` for it."""

    order_ref: str
    payment_ref: str  # the payment it reverses
    ref: str  # its own id
    amount: Decimal
    at: datetime
    fee: Decimal = ZERO
    item: Item | None = None


def token(prefix: str, seed: str, length: int = 24) -> str:
    """An id in the provider's style, the same for the same seed."""
    return prefix + b32encode(hashlib.sha256(seed.encode()).digest()).decode()[:length]


def _m(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _table(header: str, rows: Iterable[Row], *, tabs: bool = False) -> bytes:
    """The header line, then the rows in time order: comma-separated, or by tabs and never
    quoted (Amazon's flat files)."""
    out = io.StringIO()
    writer = csv.DictWriter(
        out,
        header.split("|"),
        restval="",
        delimiter="\t" if tabs else ",",
        quoting=csv.QUOTE_NONE if tabs else csv.QUOTE_MINIMAL,
        lineterminator="\n",
    )
    writer.writeheader()
    writer.writerows(fields for _, fields in sorted(rows, key=lambda r: r[0]))
    return out.getvalue().encode()


STRIPE_HEADER = (
    "automatic_payout_id|automatic_payout_effective_at|automatic_payout_effective_at_utc|"
    "balance_transaction_id|created_utc|created|available_on_utc|currency|gross|fee|net|"
    "reporting_category|source_id|description|charge_id|payment_intent_id|payment_method_type|"
    "card_brand|payment_metadata[order_id]"
)
ORDER_ID = "payment_metadata[order_id]"  # the metadata key the shop's checkout sets


def stripe_report(
    payout_id: str,
    currency: str,
    sales: Sequence[Sale],
    refunds: Sequence[Reversal],
    fees: Sequence[Fee],
    paid_on: date,
) -> tuple[bytes, Decimal]:
    """Itemized payout reconciliation (payout_reconciliation.itemized.5) asked for in UTC, with
    the payout's own row last; and the payout's amount."""
    effective = f"{paid_on} 00:00:00"
    rows: list[Row] = []

    def row(
        at: datetime,
        txn: str,
        gross: Decimal,
        fee: Decimal,
        category: str,
        text: str,
        fields: dict[str, str] | None = None,
    ) -> None:
        when = f"{at:%Y-%m-%d %H:%M:%S}"
        values = [
            payout_id,
            effective,
            effective,
            token("txn_", txn),
            when,
            when,
            effective,
            currency.lower(),
            _m(gross),
            _m(fee),
            _m(gross - fee),
            category,
            "" if category == "fee" else txn,
            text,
        ]
        rows.append(
            (at, dict(zip(STRIPE_HEADER.split("|"), values, strict=False)) | (fields or {}))
        )

    for s in sales:
        charge = {"charge_id": s.payment_ref, "payment_intent_id": token("pi_", s.payment_ref)}
        charge |= {"payment_method_type": "card", "card_brand": s.method, ORDER_ID: s.order_ref}
        row(s.at, s.payment_ref, s.gross, s.fee, "charge", f"Order {s.order_ref}", charge)
    for r in refunds:
        refund = {"charge_id": r.payment_ref, ORDER_ID: r.order_ref}
        row(r.at, r.ref, -r.amount, ZERO, "refund", f"REFUND FOR CHARGE ({r.order_ref})", refund)
    for text, amount, at in fees:
        row(at, f"{payout_id}{text}", -amount, ZERO, "fee", text)
    total = sum((Decimal(fields["net"]) for _, fields in rows), ZERO)
    last = max(at for at, _ in rows) + timedelta(minutes=5)
    row(last, payout_id, -total, ZERO, "payout", "STRIPE PAYOUT")
    return _table(STRIPE_HEADER, rows), total


AMAZON_HEADER = (
    "settlement-id|settlement-start-date|settlement-end-date|deposit-date|total-amount|currency|"
    "transaction-type|order-id|merchant-order-id|adjustment-id|shipment-id|marketplace-name|"
    "amount-type|amount-description|amount|fulfillment-id|posted-date|posted-date-time|"
    "order-item-code|merchant-order-item-id|merchant-adjustment-item-id|sku|"
    "quantity-purchased|promotion-id"
)


def amazon_report(
    settlement_id: str,
    currency: str,
    sales: Sequence[Sale],
    refunds: Sequence[Reversal],
    fees: Sequence[Fee],
    deposit_on: date,
) -> tuple[bytes, Decimal]:
    """Settlement report V2 flat file: the summary row, then every amount component grouped by
    order. Amazon collects the US sales tax itself, so each tax row is withheld again."""
    rows: list[Row] = []

    def row(
        at: datetime, kind: str, amount_type: str, text: str, amount: Decimal, **f: str
    ) -> None:
        if amount:
            stamp = {
                "posted-date": f"{at:%Y-%m-%d}",
                "posted-date-time": f"{at:%Y-%m-%d %H:%M:%S} UTC",
            }
            rows.append(
                (
                    at,
                    {
                        "settlement-id": settlement_id,
                        "transaction-type": kind,
                        "amount-type": amount_type,
                        "amount-description": text,
                        "amount": _m(amount),
                        **stamp,
                        **f,
                    },
                )
            )

    for s in sales:
        order = {
            "order-id": s.order_ref,
            "shipment-id": token("D", s.order_ref, 9),
            "marketplace-name": "Amazon.com",
            "fulfillment-id": "MFN",
        }
        for i in s.items:
            item = {"order-item-code": i.code, "sku": i.sku, "quantity-purchased": str(i.quantity)}
            for amount_type, text, amount in (
                ("ItemPrice", "Principal", i.principal),
                ("ItemPrice", "Tax", i.tax),
                ("ItemWithheldTax", "MarketplaceFacilitatorTax-Principal", -i.tax),
                ("ItemPrice", "Shipping", i.shipping),
                ("ItemPrice", "ShippingTax", i.shipping_tax),
                ("ItemWithheldTax", "MarketplaceFacilitatorTax-Shipping", -i.shipping_tax),
                ("Promotion", "Principal", -i.promotion),
                ("ItemFees", "Commission", -i.commission),
            ):
                row(s.at, "Order", amount_type, text, amount, **order, **item)
    for r in refunds:
        item = {"order-item-code": r.item.code, "sku": r.item.sku} if r.item else {}
        row(
            r.at,
            "Refund",
            "ItemPrice",
            "Principal",
            -r.amount,
            **{"order-id": r.order_ref},
            **{"adjustment-id": r.ref, "marketplace-name": "Amazon.com"},
            **item,
        )
    for text, amount, at in fees:
        row(at, "other-transaction", "other-transaction", text, -amount)
    total = sum((Decimal(fields["amount"]) for _, fields in rows), ZERO)
    days = sorted(fields["posted-date"] for _, fields in rows)
    summary = {
        "settlement-id": settlement_id,
        "settlement-start-date": f"{days[0]} 00:00:00 UTC",
        "settlement-end-date": f"{days[-1]} 00:00:00 UTC",
        "deposit-date": f"{deposit_on} 00:00:00 UTC",
        "total-amount": _m(total),
        "currency": currency,
    }
    first = min(at for at, _ in rows) - timedelta(days=1)  # the summary row comes first
    rows.append((first, summary))
    return _table(AMAZON_HEADER, rows, tabs=True), total


ADYEN_HEADER = (
    "Company Account|Merchant Account|Psp Reference|Merchant Reference|Payment Method|"
    "Creation Date|TimeZone|Type|Modification Reference|Gross Currency|Gross Debit (GC)|"
    "Gross Credit (GC)|Exchange Rate|Net Currency|Net Debit (NC)|Net Credit (NC)|"
    "Commission (NC)|Markup (NC)|Scheme Fees (NC)|Interchange (NC)|Payment Method Variant|"
    "Modification Merchant Reference|Batch Number"
)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")  # the account's clock: CET, CEST in summer
NET_CREDIT, NET_DEBIT = "Net Credit (NC)", "Net Debit (NC)"


def adyen_report(
    merchant: str,
    batch: int,
    currency: str,
    sales: Sequence[Sale],
    refunds: Sequence[Reversal],
    paid_at: datetime,
) -> tuple[bytes, Decimal]:
    """Settlement details report of one batch under blended pricing (the fee is the
    Commission), unsigned amounts in their Debit or Credit column; and the payout."""
    rows: list[Row] = []

    def row(
        at: datetime,
        kind: str,
        ref: str,
        modification: str,
        net: Decimal,
        gross: Decimal | None,
        fields: dict[str, str] | None = None,
    ) -> None:
        local = at.astimezone(AMSTERDAM)
        values = {"Merchant Reference": ref, "Modification Reference": modification}
        if gross is not None:
            side = "Gross Credit (GC)" if gross >= 0 else "Gross Debit (GC)"
            values |= {"Gross Currency": currency, side: _m(abs(gross)), "Exchange Rate": "1"}
        values |= {"Company Account": "RetailsyncDemo", "Merchant Account": merchant}
        values |= {"Creation Date": f"{local:%Y-%m-%d %H:%M:%S}", "Type": kind}
        values |= {"TimeZone": local.tzname() or "CET", "Batch Number": str(batch)}
        values |= {"Net Currency": currency, NET_CREDIT if net >= 0 else NET_DEBIT: _m(abs(net))}
        rows.append((at, values | (fields or {})))

    for s in sales:
        settled = {"Commission (NC)": _m(s.fee), "Payment Method Variant": f"{s.method}credit"}
        settled |= {"Payment Method": s.method, "Psp Reference": s.payment_ref}
        capture = token("", f"capture {s.payment_ref}", 16)
        row(s.at, "Settled", s.order_ref, capture, s.gross - s.fee, s.gross, settled)
    for r in refunds:
        refund = {"Psp Reference": r.payment_ref, "Modification Merchant Reference": r.ref}
        row(r.at, "Refunded", r.order_ref, token("", r.ref, 16), -r.amount, -r.amount, refund)
    total = sum((Decimal(f.get(NET_CREDIT) or f"-{f[NET_DEBIT]}") for _, f in rows), ZERO)
    row(paid_at, "MerchantPayout", "", f"Payout batch {batch}", -total, None)
    return _table(ADYEN_HEADER, rows), total


# The wholesale channel's payments provider writes a CSV of its own: the demo configures how to
# read it (ProviderSettings.column_mapping), as finance would for any provider without a parser.
GENERIC_HEADER = "Remittance|Transaction|Type|Invoice|PO Number|Date|Currency|Amount|Fee|Net|Memo"
GENERIC_MAPPING = {
    "batch_key": "Remittance",
    "line_key": "Transaction",
    "kind": "Type",
    "payment_ref": "Invoice",
    "order_ref": "PO Number",
    "posted_at": "Date",
    "currency": "Currency",
    "gross": "Amount",
    "fee": "Fee",
    "net": "Net",
    "description": "Memo",
}
GENERIC_DATES = "%m/%d/%Y %H:%M"


def generic_csv(
    remittance: str,
    currency: str,
    sales: Sequence[Sale],
    refunds: Sequence[Reversal],
    fees: Sequence[Fee],
    paid_at: datetime,
) -> tuple[bytes, Decimal]:
    """A remittance: payments and refunds per invoice, the provider's fees, the transfer out
    (signed amounts, fees negative); and what was transferred."""
    rows: list[Row] = []

    def row(
        at: datetime,
        kind: str,
        gross: Decimal,
        fee: Decimal,
        memo: str,
        invoice: str = "",
        order: str = "",
    ) -> None:
        line = token("TR", f"{remittance} {kind} {invoice} {memo} {at}", 12)
        values = [
            remittance,
            line,
            kind,
            invoice,
            order,
            f"{at:{GENERIC_DATES}}",
            currency,
            _m(gross),
            _m(-fee),
            _m(gross - fee),
            memo,
        ]
        rows.append((at, dict(zip(GENERIC_HEADER.split("|"), values, strict=True))))

    for s in sales:
        row(s.at, "Payment", s.gross, s.fee, "Invoice paid", s.payment_ref, s.order_ref)
    for r in refunds:
        row(r.at, "Refund", -r.amount, ZERO, "Credit note paid back", r.payment_ref, r.order_ref)
    for text, amount, at in fees:
        row(at, "Fee", -amount, ZERO, text)
    total = sum((Decimal(f["Net"]) for _, f in rows), ZERO)
    row(paid_at, "Payout", -total, ZERO, "Transfer to bank")
    return _table(GENERIC_HEADER, rows), total
