"""Stripe itemized payout reconciliation report (`payout_reconciliation.itemized.5`, formats.md
§4): a CSV with one header line and one row per balance transaction, in decimal major units.

Every row becomes a `ParsedLine` keyed by its `balance_transaction_id`; the batch is the
automatic payout (`automatic_payout_id`), announced after all lines since a payout's rows need
not be together. Stripe writes the fee positive with `net = gross - fee`; we turn it into our
sign (`fee` = minus Stripe's), so `net = gross + fee` again, and refuse a row where Stripe's own
three figures disagree. Rows of category `fee` carry their amount in `fee` (gross 0), like fee
lines from the other providers.

A payout's amount is what the file says: minus its `payout` row when the report has one (which
must then equal the sum of the payout's other nets, or the file is refused), else the sum of its
nets. Columns are found by header name; only the seven in `REQUIRED` must be present.
Datetimes are the `*_utc` columns, else the plain ones read as UTC. `options` is not used.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import IO, Final

from .base import ColumnMapping, LineKind, ParsedBatch, ParsedLine, ParseError, Record
from .csvread import (
    ZERO,
    CsvSource,
    currency,
    decimal,
    normalize,
    with_header,
)

REQUIRED: Final = (
    "automatic_payout_id",
    "balance_transaction_id",
    "currency",
    "gross",
    "fee",
    "net",
    "reporting_category",
)
# Kept in `extra` when the report has them and they are filled.
EXTRA: Final = (
    "source_id",
    "charge_id",
    "payment_intent_id",
    "description",
    "customer_facing_amount",
    "customer_facing_currency",
    "payment_method_type",
    "card_brand",
    "invoice_id",
    "dispute_reason",
)
# reporting_category (docs.stripe.com/reports/reporting-categories) → kind; others are `other`.
CATEGORIES: Final = {
    "charge": LineKind.CHARGE,
    "payment": LineKind.CHARGE,
    "refund": LineKind.REFUND,
    "payment_refund": LineKind.REFUND,
    "partial_capture_reversal": LineKind.REFUND,
    "refund_failure": LineKind.ADJUSTMENT,
    "charge_failure": LineKind.ADJUSTMENT,
    "other_adjustment": LineKind.ADJUSTMENT,
    "payout_reversal": LineKind.ADJUSTMENT,
    "dispute": LineKind.CHARGEBACK,
    "dispute_reversal": LineKind.CHARGEBACK_REVERSAL,
    "fee": LineKind.FEE,
    "network_cost": LineKind.FEE,
    "tax": LineKind.TAX,
    "payout": LineKind.PAYOUT,
}
# Reserves: held when the amount leaves the balance, released when it comes back.
RESERVES: Final = frozenset({"risk_reserved_funds", "connect_reserved_funds"})
REFERS_BACK: Final = frozenset({LineKind.REFUND, LineKind.CHARGEBACK, LineKind.CHARGEBACK_REVERSAL})


@dataclass
class _Payout:
    currency: str
    nets: Decimal = ZERO  # every row but the payout row
    paid: Decimal | None = None  # the payout row's net (negative: it leaves the balance)
    paid_row: int = 0
    deposit: date | None = None
    start: date | None = None
    end: date | None = None


def parse(stream: IO[bytes], *, options: ColumnMapping | None = None) -> Iterator[Record]:
    src = CsvSource(stream)
    records, header, index = with_header(src, REQUIRED)
    width = len(header)
    i_payout, i_txn, i_currency, i_gross, i_fee, i_net, i_category = (
        index[name] for name in REQUIRED
    )

    def column(*names: str) -> int | None:
        return next((index[normalize(n)] for n in names if normalize(n) in index), None)

    i_created = column("created_utc", "created")
    i_effective = column("automatic_payout_effective_at_utc", "automatic_payout_effective_at")
    i_charge = column("charge_id")
    i_intent = column("payment_intent_id")
    i_order = column("payment_metadata[order_id]")
    i_brand = column("card_brand")
    i_method = column("payment_method_type")
    extras = [(index[name], name) for name in EXTRA if name in index]

    payouts: dict[str, _Payout] = {}
    for fields in records:
        if len(fields) != width:
            if not fields:
                continue
            raise src.bad_width(len(fields), width)
        row = src.row
        payout_id, txn = fields[i_payout], fields[i_txn]
        if not payout_id:
            raise ParseError(row, "automatic_payout_id is empty (not paid out yet?)")
        if not txn:
            raise ParseError(row, "balance_transaction_id is empty")
        code = currency(fields[i_currency], row, "currency")
        gross = decimal(fields[i_gross], row, "gross")
        stripe_fee = decimal(fields[i_fee], row, "fee")
        net = decimal(fields[i_net], row, "net")
        if gross - stripe_fee != net:
            raise ParseError(
                row,
                f"net is {net} but gross {gross} minus fee {stripe_fee} is {gross - stripe_fee}",
            )
        category = fields[i_category]
        kind = CATEGORIES.get(category, LineKind.OTHER)
        if category in RESERVES:
            kind = LineKind.RESERVE_HOLD if net < 0 else LineKind.RESERVE_RELEASE
        fee = -stripe_fee
        if kind is LineKind.FEE:
            gross, fee = ZERO, net
        posted = _when(_get(fields, i_created), row, "created_utc")

        payout = payouts.get(payout_id)
        if payout is None:
            payout = payouts[payout_id] = _Payout(currency=code)
        elif payout.currency != code:
            raise ParseError(row, f"payout {payout_id} has rows in {payout.currency} and in {code}")
        if kind is LineKind.PAYOUT:
            payout.paid = net + (payout.paid or ZERO)
            payout.paid_row = payout.paid_row or row
        else:
            payout.nets += net
            if posted is not None:
                day = posted.date()
                payout.start = day if payout.start is None else min(payout.start, day)
                payout.end = day if payout.end is None else max(payout.end, day)
        if payout.deposit is None and _get(fields, i_effective):
            effective = _when(_get(fields, i_effective), row, "automatic_payout_effective_at")
            payout.deposit = effective.date() if effective else None

        payment_ref = _get(fields, i_charge) or _get(fields, i_intent)
        yield ParsedLine(
            row=row,
            batch_key=payout_id,
            line_key=txn,
            kind=kind,
            currency=code,
            gross=gross,
            fee=fee,
            net=net,
            posted_at=posted,
            order_ref=_get(fields, i_order),
            payment_ref=payment_ref,
            related_ref=payment_ref if kind in REFERS_BACK else "",
            payment_method=(_get(fields, i_brand) or _get(fields, i_method)).lower(),
            description=category,
            raw=src.raw,
            extra={name: fields[i] for i, name in extras if fields[i]},
        )

    for payout_id, payout in payouts.items():
        amount = payout.nets
        if payout.paid is not None:
            if payout.paid != -payout.nets:
                raise ParseError(
                    payout.paid_row,
                    f"payout {payout_id}: the payout row says {payout.paid}, but the payout's"
                    f" other rows net to {payout.nets} (it should be {-payout.nets})",
                )
            amount = -payout.paid
        yield ParsedBatch(
            key=payout_id,
            currency=payout.currency,
            payout_amount=amount,
            period_start=payout.start,
            period_end=payout.end,
            deposit_date=payout.deposit,
        )


def _get(fields: list[str], i: int | None) -> str:
    return fields[i] if i is not None else ""


def _when(text: str, row: int, column: str) -> datetime | None:
    """`YYYY-MM-DD HH:MM:SS` (or any ISO 8601), UTC unless it carries an offset."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ParseError(row, f"{column}: {text!r} is not a date and time") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
