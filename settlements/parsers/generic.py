"""A provider's CSV read through the `ColumnMapping` configured for it in the admin.

`ColumnMapping.columns` maps our field names to the file's headers (matched ignoring case and
whitespace). The keys:

    batch_key       required: the payout or statement the row belongs to
    currency        required unless `ColumnMapping.currency` names the file's one currency
    gross, net      at least one; fee optional (see below)
    fee             the provider's fee on the row
    line_key        the provider's id for the row; without it, a hash of the batch key and the
                    row's text, with a count of identical rows before it in the file
    kind            the row's type, read through KIND_WORDS (charge, sale, refund, fee,
                    dispute, payout, ...); an unknown word is `other`; without the column a row
                    is a charge when its net is ≥ 0 and a refund when it is negative
    posted_at       date or date-time in `date_format` (strptime); UTC unless it has an offset
    order_ref, payment_ref, related_ref, payment_method, description    copied as they are
    direction       required with sign_convention "direction": CR/C/CREDIT/+ or DR/D/DEBIT/-
    extra.<name>    any other column, kept in the line's `extra` under <name>

Signs (`sign_convention`): "signed" takes the amounts as the merchant sees them (money in
positive, fees negative); "negate" flips every amount (files written from the customer's side);
"direction" reads gross and net as magnitudes signed by the direction column and the fee as a
charge (a positive fee lowers the net). Then: with gross, fee and net all mapped, net must equal
gross + fee or the file is refused; with two of them the third follows; with one alone, fee is 0.
Fee rows (kind fee or commission) carry their amount in `fee` with gross 0.

Amounts use `decimal_separator` ("," reads `1.234,56`; "." reads `1,234.56`). Batches are
announced after all lines, with the period their lines span and, when the file has payout rows,
the payout amount (minus their nets).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import IO, Final

from .base import ColumnMapping, LineKind, ParsedBatch, ParsedLine, ParseError, Record
from .csvread import CACHE_LIMIT, ZERO, CsvSource, currency, decimal, header_index, normalize

KEYS: Final = frozenset(
    {
        "batch_key",
        "line_key",
        "kind",
        "currency",
        "gross",
        "fee",
        "net",
        "posted_at",
        "order_ref",
        "payment_ref",
        "related_ref",
        "payment_method",
        "description",
        "direction",
    }
)
_WORDS: Final = {
    LineKind.CHARGE: "charge sale sales payment capture captured settled order purchase",
    LineKind.REFUND: "refund refunded return returned credit_note",
    LineKind.FEE: "fee fees service_fee processing_fee transaction_fee cost costs",
    LineKind.COMMISSION: "commission marketplace_fee referral_fee",
    LineKind.CHARGEBACK: "chargeback dispute disputed",
    LineKind.CHARGEBACK_REVERSAL: "dispute_reversal dispute_won chargeback_reversed representment",
    LineKind.ADJUSTMENT: "adjustment correction manual_adjustment",
    LineKind.RESERVE_HOLD: "reserve hold rolling_reserve reserve_held",
    LineKind.RESERVE_RELEASE: "release reserve_released",
    LineKind.TAX: "tax vat gst sales_tax",
    LineKind.SHIPPING: "shipping delivery postage",
    LineKind.PROMOTION: "promotion discount coupon voucher",
    LineKind.ADVERTISING: "advertising ads",
    LineKind.PAYOUT: "payout transfer withdrawal disbursement settlement_transfer",
}
# A kind column's word (lower case, spaces and hyphens as underscores) → kind; every kind's own
# name is in it too.
KIND_WORDS: Final = {
    **{kind.value: kind for kind in LineKind},
    **{word: kind for kind, words in _WORDS.items() for word in words.split()},
}
DIRECTIONS: Final = {"cr": 1, "c": 1, "credit": 1, "+": 1, "dr": -1, "d": -1, "debit": -1, "-": -1}
FEE_KINDS: Final = (LineKind.FEE, LineKind.COMMISSION)


def kind_of(word: str) -> LineKind:
    return KIND_WORDS.get(word.strip().lower().replace(" ", "_").replace("-", "_"), LineKind.OTHER)


@dataclass
class _Batch:
    currency: str
    payout: Decimal | None = None
    start: date | None = None
    end: date | None = None


def parse(stream: IO[bytes], *, options: ColumnMapping | None = None) -> Iterator[Record]:
    if options is None:
        raise ParseError(0, "the generic CSV needs a column mapping for its provider")
    mapping = options
    unknown = sorted(k for k in mapping.columns if k not in KEYS and not k.startswith("extra."))
    if unknown:
        raise ParseError(0, f"column mapping: unknown field(s) {', '.join(unknown)}")
    needs = ["batch_key"] + ([] if mapping.currency else ["currency"])
    needs += ["direction"] if mapping.sign_convention == "direction" else []
    missing = [k for k in needs if k not in mapping.columns]
    if not {"gross", "net"} & set(mapping.columns):
        missing.append("gross or net")
    if missing:
        raise ParseError(0, f"column mapping: needs {', '.join(missing)}")
    if mapping.sign_convention not in ("signed", "negate", "direction"):
        raise ParseError(0, f"column mapping: unknown sign convention {mapping.sign_convention!r}")

    src = CsvSource(stream, delimiter=mapping.delimiter)
    records = iter(src)
    header = next(records, None)
    if header is None:
        raise ParseError(0, "the file is empty")
    index = header_index(header)
    absent = [h for h in mapping.columns.values() if normalize(h) not in index]
    if absent:
        raise ParseError(1, f"missing column(s): {', '.join(absent)}")
    columns = {key: index[normalize(h)] for key, h in mapping.columns.items()}
    width = len(header)
    reader = _Reader(mapping)

    batches: dict[str, _Batch] = {}
    keys: dict[str, int] = {}
    for fields in records:
        if len(fields) != width:
            if not fields:
                continue
            raise src.bad_width(len(fields), width)
        row = src.row
        values = {key: fields[i].strip() for key, i in columns.items()}
        batch_key = values["batch_key"]
        if not batch_key:
            raise ParseError(row, f"{mapping.columns['batch_key']}: empty (the batch key)")
        code = currency(values.get("currency") or mapping.currency, row, "currency")
        gross, fee, net = reader.amounts(values, row)
        kind = kind_of(values["kind"]) if "kind" in values else None
        if kind is None:
            kind = LineKind.CHARGE if net >= 0 else LineKind.REFUND
        if kind in FEE_KINDS:
            gross, fee = ZERO, net
        posted = reader.when(values.get("posted_at", ""), row)

        batch = batches.get(batch_key)
        if batch is None:
            batch = batches[batch_key] = _Batch(currency=code)
        elif batch.currency != code:
            raise ParseError(row, f"batch {batch_key} has rows in {batch.currency} and in {code}")
        if kind is LineKind.PAYOUT:
            batch.payout = (batch.payout or ZERO) - net
        elif posted is not None:
            day = posted.date()
            batch.start = day if batch.start is None else min(batch.start, day)
            batch.end = day if batch.end is None else max(batch.end, day)

        line_key = values.get("line_key", "")
        if "line_key" in values and not line_key:
            raise ParseError(row, f"{mapping.columns['line_key']}: empty (the line key)")
        if not line_key:
            digest = hashlib.blake2b(f"{batch_key}\t{src.raw}".encode(), digest_size=16)
            line_key = digest.hexdigest()
            seen = keys[line_key] = keys.get(line_key, 0) + 1
            if seen > 1:  # the same row again in this file: a second, real line
                line_key = f"{line_key}#{seen}"
        yield ParsedLine(
            row=row,
            batch_key=batch_key,
            line_key=line_key,
            kind=kind,
            currency=code,
            gross=gross,
            fee=fee,
            net=net,
            posted_at=posted,
            order_ref=values.get("order_ref", ""),
            payment_ref=values.get("payment_ref", ""),
            related_ref=values.get("related_ref", ""),
            payment_method=values.get("payment_method", "").lower(),
            description=values.get("description", ""),
            raw=src.raw,
            extra={k[6:]: v for k, v in values.items() if k.startswith("extra.") and v},
        )

    for key, batch in batches.items():
        yield ParsedBatch(
            key=key,
            currency=batch.currency,
            payout_amount=batch.payout,
            period_start=batch.start,
            period_end=batch.end,
        )


class _Reader:
    """Amounts and dates as the mapping says the file writes them."""

    def __init__(self, mapping: ColumnMapping) -> None:
        self.mapping = mapping
        self.comma = mapping.decimal_separator == ","
        self.times: dict[str, datetime] = {}

    def amount(self, values: dict[str, str], key: str, row: int) -> Decimal | None:
        if key not in values:
            return None
        written = values[key]
        text = written.replace(" ", "").replace("\u00a0", "")
        text = text.replace(".", "").replace(",", ".") if self.comma else text.replace(",", "")
        try:
            return decimal(text, row, "")
        except ParseError:
            column = self.mapping.columns[key]
            raise ParseError(row, f"{column}: {written!r} is not an amount") from None

    def amounts(self, values: dict[str, str], row: int) -> tuple[Decimal, Decimal, Decimal]:
        gross, fee, net = (self.amount(values, key, row) for key in ("gross", "fee", "net"))
        convention = self.mapping.sign_convention
        if convention == "negate":
            gross, fee, net = (None if x is None else -x for x in (gross, fee, net))
        elif convention == "direction":
            word = values["direction"].lower()
            sign = DIRECTIONS.get(word)
            if sign is None:
                column = self.mapping.columns["direction"]
                raise ParseError(
                    row, f"{column}: {values['direction']!r} is neither credit nor debit"
                )
            gross, net = (None if x is None else sign * abs(x) for x in (gross, net))
            fee = None if fee is None else -fee
        if gross is not None and net is not None:
            if fee is not None and gross + fee != net:
                raise ParseError(
                    row, f"net is {net} but gross {gross} plus fee {fee} is {gross + fee}"
                )
            return gross, net - gross, net
        if gross is not None:
            return gross, fee or ZERO, gross + (fee or ZERO)
        assert net is not None  # the mapping has gross or net
        return net - (fee or ZERO), fee or ZERO, net

    def when(self, text: str, row: int) -> datetime | None:
        if not text:
            return None
        value = self.times.get(text)
        if value is None:
            try:
                parsed = datetime.strptime(text, self.mapping.date_format)
            except ValueError:
                column = self.mapping.columns["posted_at"]
                raise ParseError(
                    row, f"{column}: {text!r} does not match {self.mapping.date_format!r}"
                ) from None
            value = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
            if len(self.times) >= CACHE_LIMIT:
                self.times.clear()
            self.times[text] = value
        return value
