"""Adyen settlement details report (`settlement_detail_report_batch_<N>.csv`, formats.md §6): a
CSV with one header line (columns found by name: Adyen lets merchants reorder them), one row per
journal entry, unsigned amounts in Debit and Credit columns.

A line's currency is the net (settlement) currency; `net` = Net Credit − Net Debit. When the
gross is in the same currency, `gross` = Gross Credit − Gross Debit and `fee` = net − gross
(exactly the file's own figures). When it is in another currency the fee is Commission, else
Markup + Scheme Fees + Interchange, else gross × Exchange Rate − net (rounded to the net
currency), and `gross` = net − fee; the original gross stays in `extra`. Rows without a gross
(Fee, MiscCosts, ...) carry their net in `fee` when they are fees, in `gross` otherwise.

The batch is the merchant account's settlement batch in one net currency: key
`<merchant account>:<batch number>:<currency>`, announced after its lines (the MerchantPayout
row comes last). Its payout is the MerchantPayout row's Net Debit, which must equal Σ Net Credit
− Σ Net Debit of the batch's other rows, or the file is refused; a batch without a payout row
has no payout amount. `Creation Date` is local time in the `TimeZone` column's zone (CET and
CEST are Europe/Amsterdam, as the account's clock); lines get it in UTC. `options` is not used.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import IO, Final

from retailsync.core.money import minor_unit

from .base import ColumnMapping, LineKind, ParsedBatch, ParsedLine, ParseError, Record
from .csvread import (
    ZERO,
    CsvSource,
    currency,
    decimal,
    localize,
    normalize,
    with_header,
)

REQUIRED: Final = (
    "Merchant Account",
    "Psp Reference",
    "Merchant Reference",
    "Payment Method",
    "Creation Date",
    "TimeZone",
    "Type",
    "Modification Reference",
    "Gross Currency",
    "Gross Debit (GC)",
    "Gross Credit (GC)",
    "Exchange Rate",
    "Net Currency",
    "Net Debit (NC)",
    "Net Credit (NC)",
    "Batch Number",
)
OPTIONAL: Final = (
    "Company Account",
    "Commission (NC)",
    "Markup (NC)",
    "Scheme Fees (NC)",
    "Interchange (NC)",
    "Payment Method Variant",
    "Modification Merchant Reference",
)
FEES: Final = ("Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)")
# Journal types (formats.md §6) → kind; others are `other`.
TYPES: Final = {
    "Settled": LineKind.CHARGE,
    "Refunded": LineKind.REFUND,
    "Chargeback": LineKind.CHARGEBACK,
    "SecondChargeback": LineKind.CHARGEBACK,
    "ChargebackReversed": LineKind.CHARGEBACK_REVERSAL,
    "RefundedReversed": LineKind.ADJUSTMENT,
    "Fee": LineKind.FEE,
    "MiscCosts": LineKind.FEE,
    "PaymentCost": LineKind.FEE,
    "InvoiceDeduction": LineKind.FEE,
    "MerchantPayout": LineKind.PAYOUT,
    "DepositCorrection": LineKind.ADJUSTMENT,
    "ManualCorrected": LineKind.ADJUSTMENT,
    "BankInstructionReturned": LineKind.ADJUSTMENT,
    "Balancetransfer": LineKind.ADJUSTMENT,
    "ReserveAdjustment": LineKind.RESERVE_HOLD,  # or a release: by its sign (below)
}
REFERS_BACK: Final = frozenset({LineKind.REFUND, LineKind.CHARGEBACK, LineKind.CHARGEBACK_REVERSAL})


@dataclass
class _Batch:
    currency: str
    nets: Decimal = ZERO  # Σ credit − Σ debit of every row but the payout rows
    paid: Decimal | None = None  # Σ the payout rows' net debit
    paid_row: int = 0
    deposit: date | None = None
    start: date | None = None
    end: date | None = None


def parse(stream: IO[bytes], *, options: ColumnMapping | None = None) -> Iterator[Record]:
    src = CsvSource(stream)
    records, header, index = with_header(src, REQUIRED)
    columns = {name: index.get(normalize(name)) for name in REQUIRED + OPTIONAL}
    width = len(header)

    batches: dict[str, _Batch] = {}
    keys: dict[str, int] = {}
    for fields in records:
        if len(fields) != width:
            if not fields:
                continue
            raise src.bad_width(len(fields), width)
        row = src.row
        values = {name: fields[i].strip() if i is not None else "" for name, i in columns.items()}
        merchant, number, journal = (
            values["Merchant Account"],
            values["Batch Number"],
            values["Type"],
        )
        if not number:
            raise ParseError(row, "Batch Number is empty")
        code = currency(values["Net Currency"], row, "Net Currency")
        kind = TYPES.get(journal, LineKind.OTHER)
        net = _amount(values, "Net Credit (NC)", row) - _amount(values, "Net Debit (NC)", row)
        if kind is LineKind.RESERVE_HOLD and net > 0:  # funds withheld, or released back
            kind = LineKind.RESERVE_RELEASE
        gross, fee, extra = _gross_and_fee(values, kind, code, net, row)
        local = _when(values["Creation Date"], values["TimeZone"], row)

        batch_key = f"{merchant}:{number}:{code}"
        batch = batches.get(batch_key)
        if batch is None:
            batch = batches[batch_key] = _Batch(currency=code)
        day = local.date() if local else None
        if kind is LineKind.PAYOUT:
            batch.paid = (batch.paid or ZERO) - net
            batch.paid_row = batch.paid_row or row
            batch.deposit = batch.deposit or day
        else:
            batch.nets += net
            if day is not None:
                batch.start = day if batch.start is None else min(batch.start, day)
                batch.end = day if batch.end is None else max(batch.end, day)

        # Modification references are Adyen's ids, but fee and payout rows may repeat a free
        # text: the second identical key in a file gets "#2", and so on.
        line_key = f"{merchant}:{number}:{journal}:{values['Modification Reference']}"
        seen = keys[line_key] = keys.get(line_key, 0) + 1
        if seen > 1:
            line_key = f"{line_key}#{seen}"
        psp = values["Psp Reference"]
        for name, key in (
            ("Company Account", "company_account"),
            ("Merchant Account", "merchant_account"),
            ("Batch Number", "batch_number"),
            ("Type", "type"),
            ("Modification Reference", "modification_reference"),
            ("Modification Merchant Reference", "modification_merchant_reference"),
            ("Payment Method Variant", "payment_method_variant"),
        ):
            if values[name]:
                extra[key] = values[name]
        yield ParsedLine(
            row=row,
            batch_key=batch_key,
            line_key=line_key,
            kind=kind,
            currency=code,
            gross=gross,
            fee=fee,
            net=net,
            posted_at=local.astimezone(UTC) if local else None,
            order_ref=values["Merchant Reference"],
            payment_ref=psp,
            related_ref=psp if kind in REFERS_BACK else "",
            payment_method=values["Payment Method"].lower(),
            description=journal,
            raw=src.raw,
            extra=extra,
        )

    for key, batch in batches.items():
        if batch.paid is not None and batch.paid != batch.nets:
            raise ParseError(
                batch.paid_row,
                f"batch {key}: the MerchantPayout net debit is {batch.paid}, but the batch's other"
                f" rows net to {batch.nets} (credits minus debits)",
            )
        yield ParsedBatch(
            key=key,
            currency=batch.currency,
            payout_amount=batch.paid,
            period_start=batch.start,
            period_end=batch.end,
            deposit_date=batch.deposit,
        )


def _amount(values: dict[str, str], name: str, row: int) -> Decimal:
    return decimal(values[name], row, name)


def _gross_and_fee(
    values: dict[str, str], kind: LineKind, code: str, net: Decimal, row: int
) -> tuple[Decimal, Decimal, dict[str, str]]:
    """(gross, fee, extra) in the net currency, with net = gross + fee."""
    extra: dict[str, str] = {}
    for name in ("Commission (NC)", *FEES):
        if values[name]:
            extra[name.split(" (")[0].lower().replace(" ", "_")] = values[name]
    if not values["Gross Debit (GC)"] and not values["Gross Credit (GC)"]:
        return (ZERO, net, extra) if kind is LineKind.FEE else (net, ZERO, extra)
    gross = _amount(values, "Gross Credit (GC)", row) - _amount(values, "Gross Debit (GC)", row)
    gross_code = values["Gross Currency"].upper() or code
    if gross_code == code:
        return gross, net - gross, extra
    extra["gross_currency"], extra["gross"] = gross_code, str(gross)
    if values["Commission (NC)"]:
        fee = -_amount(values, "Commission (NC)", row)
    elif any(values[name] for name in FEES):
        fee = -sum((_amount(values, name, row) for name in FEES), ZERO)
    else:
        rate = _amount(values, "Exchange Rate", row)
        if not rate:
            raise ParseError(row, f"Exchange Rate: needed to turn {gross_code} into {code}")
        converted = (gross * rate).quantize(minor_unit(code), rounding=ROUND_HALF_UP)
        fee = net - converted
    return net - fee, fee, extra


def _when(text: str, zone: str, row: int) -> datetime | None:
    """`Creation Date` as a wall-clock time in the `TimeZone` column's zone."""
    if not text:
        return None
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise ParseError(row, f"Creation Date: {text!r} is not a date and time") from None
    if naive.tzinfo is not None:
        return naive
    local = localize(naive, zone or "UTC")
    if local is None:
        raise ParseError(row, f"TimeZone: {zone!r} is not a time zone we know")
    return local
