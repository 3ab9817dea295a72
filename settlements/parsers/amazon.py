"""Amazon settlement report V2 flat file (formats.md §3): tab-separated, one header line, the
settlement summary as the first data row, then one row per amount component.

The summary row becomes the `ParsedBatch` (key = settlement-id, payout_amount = total-amount);
every later row a `ParsedLine` whose amount is already signed from the seller's side. Fee and
commission rows carry their amount in `fee` (gross 0) so a batch's fee total is the sum of its
lines' fees; every other row carries it in `gross`. The detail amounts must add up to
total-amount, or the file is refused.

Amazon has no id per row, so `line_key` hashes what identifies a component (settlement, order,
adjustment, item, transaction type, amount type and description, posted time) with a count of
the identical components before it in the same order group. Counts are kept for the current
group only (rows of one order come together), so memory stays flat at any file size; a group seen
again later in the file counts on under a second occurrence number, which a re-download of the
same settlement reproduces.

Dates come as ISO 8601, `YYYY-MM-DD HH:MM:SS UTC` (or another zone label), `dd.mm.yyyy`,
`dd/mm/yy` or `yyyy/mm/dd`; amounts with a decimal point or, in some EU files, a decimal comma. A
row may leave its empty trailing columns out. `options` is not used.

The file is never quoted, so lines are split on tabs rather than fed to `csv.reader`: the same
fields (a QUOTE_NONE reader splits on the delimiter too) at half the cost per row, which counts at
a million rows. Everything else the row does is kept to what the line needs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import IO, Final

from .base import ColumnMapping, LineKind, ParsedBatch, ParsedLine, ParseError, Record
from .csvread import (
    CACHE_LIMIT,
    ZERO,
    bad_width,
    currency,
    decode_error,
    header_index,
    localize,
    open_text,
    require,
)

# The columns read (a header may order them as it likes, and add others).
COLUMNS: Final = (
    "settlement-id",
    "currency",
    "transaction-type",
    "order-id",
    "adjustment-id",
    "amount-type",
    "amount-description",
    "amount",
    "posted-date",
    "posted-date-time",
    "order-item-code",
    "sku",
    "marketplace-name",
    "fulfillment-id",
)
SUMMARY: Final = (
    "settlement-start-date",
    "settlement-end-date",
    "deposit-date",
    "total-amount",
    "transaction-type",
)
FEE_KINDS: Final = (LineKind.FEE, LineKind.COMMISSION)


def parse(stream: IO[bytes], *, options: ColumnMapping | None = None) -> Iterator[Record]:
    text = open_text(stream)
    row = 0  # lines read so far; the current line's number in the loops
    try:
        lines = iter(text)
        header: list[str] = []
        for line in lines:
            row += 1
            header = line.rstrip("\r\n").split("\t")
            break
        if not header:
            raise ParseError(0, "the file is empty")
        index = header_index(header)
        require(index, COLUMNS + SUMMARY, 1)
        width = len(header)
        pick = itemgetter(*(index[name] for name in COLUMNS))

        summary: ParsedBatch | None = None
        for line in lines:
            row += 1
            fields = line.rstrip("\r\n").split("\t")
            if fields != [""]:
                summary = _summary(fields, row, index, width, line)
                break
        if summary is None:
            raise ParseError(0, "the file has no settlement summary row")
        yield summary
        sid = summary.key
        cur = summary.currency
        summary_row = row

        times = _Times()
        kinds: dict[tuple[str, str, str], tuple[LineKind, bool]] = {}
        total = ZERO
        comma = False
        last_when, posted_at, posted_iso = "", None, ""
        group_order, group_adj = "", ""
        counts: dict[str, int] = {}
        closed: set[int] = set()
        reopened: dict[int, int] = {}
        occurrence = 1
        blake2b = hashlib.blake2b
        last_currency_text, last_currency = "", ""

        for line in lines:
            row += 1
            raw = line.rstrip("\r\n")
            # Tab-separated and never quoted: a split is what csv.reader(QUOTE_NONE) would do,
            # at half the cost per row.
            fields = raw.split("\t")
            n = len(fields)
            if n != width:
                if not raw:
                    continue
                fields = _padded(fields, row, width, line)
            (
                row_sid,
                row_currency,
                ttype,
                order_id,
                adj_id,
                atype,
                adesc,
                amount_text,
                pdate,
                ptime,
                item,
                sku,
                marketplace,
                fulfillment,
            ) = pick(fields)
            if row_sid != sid:
                raise ParseError(row, f"settlement-id: {row_sid!r} is not this file's {sid!r}")
            try:
                if comma or "," in amount_text:
                    comma = True
                    amount = _comma_amount(amount_text)
                else:
                    amount = Decimal(amount_text)
                if not amount.is_finite():
                    raise InvalidOperation
            except InvalidOperation:
                raise ParseError(row, f"amount: {amount_text!r} is not an amount") from None
            total += amount

            when = ptime or pdate
            if when != last_when:  # the components of one item share their time
                last_when = when
                posted_at, posted_iso = times.get(when, row) if when else (None, "")
            known = kinds.get((ttype, atype, adesc))
            if known is None:
                kind = kind_of(ttype, atype, adesc)
                known = kinds[(ttype, atype, adesc)] = (kind, kind in FEE_KINDS)
            kind, is_fee = known

            if order_id != group_order or adj_id != group_adj:
                # Groups are remembered by hash: a collision only numbers a group as seen again.
                if counts:
                    closed.add(hash((group_order, group_adj)))
                group_order, group_adj = order_id, adj_id
                counts.clear()
                occurrence = 1
                group = hash((order_id, adj_id))
                if group in closed:
                    occurrence = reopened[group] = reopened.get(group, 1) + 1
            ident = f"{sid}\t{order_id}\t{adj_id}\t{item}\t{ttype}\t{atype}\t{adesc}\t{posted_iso}"
            seen = counts.get(ident, 0)
            counts[ident] = seen + 1
            if seen or occurrence > 1:
                ident = f"{ident}\t{occurrence}\t{seen}"
            key = blake2b(ident.encode(), digest_size=16).hexdigest()

            extra = {"transaction_type": ttype, "amount_type": atype}
            if adj_id:
                extra["adjustment_id"] = adj_id
            if sku:
                extra["sku"] = sku
            if marketplace:
                extra["marketplace"] = marketplace
            if fulfillment:
                extra["fulfillment"] = fulfillment
            if row_currency:
                if row_currency != last_currency_text:
                    last_currency_text = row_currency
                    last_currency = currency(row_currency, row, "currency")
                row_currency = last_currency
            # Positional: ParsedLine is a frozen dataclass; keywords cost a fifth more per row.
            yield ParsedLine(
                row,  # row
                sid,  # batch_key
                key,  # line_key
                kind,  # kind
                row_currency or cur,  # currency
                ZERO if is_fee else amount,  # gross
                amount if is_fee else ZERO,  # fee
                amount,  # net
                posted_at,  # posted_at
                order_id,  # order_ref
                "",  # payment_ref
                "",  # related_ref
                "",  # payment_method
                adesc,  # description
                raw,  # raw
                extra,  # extra
            )
    except UnicodeDecodeError as exc:
        raise decode_error(exc, row) from None
    finally:
        if not text.closed:
            text.detach()  # the caller's stream stays open

    if total != summary.payout_amount:
        raise ParseError(
            summary_row,
            f"total-amount is {summary.payout_amount} but the detail rows' amounts add up to"
            f" {total}",
        )


def _summary(
    fields: list[str], row: int, index: dict[str, int], width: int, line: str
) -> ParsedBatch:
    """The first data row: settlement-id, period, deposit date, total-amount, currency only."""
    if len(fields) != width:
        fields = _padded(fields, row, width, line)
    sid, total = fields[index["settlement-id"]], fields[index["total-amount"]]
    if not sid or not total or fields[index["transaction-type"]]:
        raise ParseError(row, "the first data row is not the settlement summary")
    start, end, deposit = (
        _Times.date(fields[index[name]], row, name)
        for name in ("settlement-start-date", "settlement-end-date", "deposit-date")
    )
    try:
        payout = _comma_amount(total)
        if not payout.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        raise ParseError(row, f"total-amount: {total!r} is not an amount") from None
    return ParsedBatch(
        key=sid,
        currency=currency(fields[index["currency"]], row, "currency"),
        payout_amount=payout,
        period_start=start,
        period_end=end,
        deposit_date=deposit,
    )


def _padded(fields: list[str], row: int, width: int, line: str) -> list[str]:
    """A row as wide as the header: a whole line may leave its empty trailing columns out (the
    summary row often stops after `currency`), but not one column too many, and not the
    file's last line cut short (no line break: truncated)."""
    if len(fields) > width or not line.endswith(("\n", "\r")):
        raise bad_width(row, len(fields), width, line)
    return fields + [""] * (width - len(fields))


def _comma_amount(text: str) -> Decimal:
    """`95,00`, `1.234,56` (decimal comma) or `1,234.56` (thousands comma)."""
    if "," not in text:
        return Decimal(text)
    if "." in text and text.rindex(".") > text.rindex(","):
        return Decimal(text.replace(",", ""))
    return Decimal(text.replace(".", "").replace(",", "."))


class _Times:
    """Date-time strings to (UTC datetime, its ISO text), cached: a file repeats them."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[datetime, str]] = {}

    def get(self, text: str, row: int, column: str = "posted-date-time") -> tuple[datetime, str]:
        hit = self._cache.get(text)
        if hit is None:
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            value = _when(text)
            if value is None:
                raise ParseError(row, f"{column}: {text!r} is not a date we can read")
            value = value.astimezone(UTC)
            hit = self._cache[text] = (value, value.isoformat())
        return hit

    @staticmethod
    def date(text: str, row: int, column: str) -> date | None:
        """The date as the file shows it (on its own clock, not UTC's)."""
        if not text:
            return None
        value = _when(text)
        if value is None:
            raise ParseError(row, f"{column}: {text!r} is not a date we can read")
        return value.date()


def _when(text: str) -> datetime | None:
    """ISO 8601; `2024-03-02 18:04:11 UTC` (any zone label); `02.03.2024`; `02/03/24`;
    `2024/03/02` (Amazon Japan)."""
    if text.endswith(" UTC"):
        try:
            return datetime.fromisoformat(text[:-4]).replace(tzinfo=UTC)
        except ValueError:
            pass
    head, _, label = text.strip().rpartition(" ")
    if head and label.isalpha():
        naive = _naive(head)
        return None if naive is None else localize(naive.replace(tzinfo=None), label)
    value = _naive(text.strip())
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _naive(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    day, _, clock = text.partition(" ")
    for sep, formats in ((".", ("%d.%m.%Y",)), ("/", ("%d/%m/%y", "%d/%m/%Y", "%Y/%m/%d"))):
        if sep in day:
            for fmt in formats:
                try:
                    return datetime.strptime(f"{day} {clock or '00:00:00'}", f"{fmt} %H:%M:%S")
                except ValueError:
                    continue
    return None


_TAX_TYPES: Final = frozenset({"itemwithheldtax"})
_FEE_WORDS: Final = ("fee", "storage", "subscription", "label", "disposal", "removal")


def kind_of(transaction_type: str, amount_type: str, description: str) -> LineKind:
    """Amazon's (transaction-type, amount-type, amount-description) to a line kind; pairs we do
    not know are `other`, never an error (the list of descriptions is open-ended)."""
    t, a, d = transaction_type.lower(), amount_type.lower(), description.lower()
    if "advertising" in d or "advertising" in a or "advertising" in t:
        return LineKind.ADVERTISING
    if "reserve" in d:
        return LineKind.RESERVE_RELEASE if "previous" in d else LineKind.RESERVE_HOLD
    if a == "itemfees":
        return LineKind.COMMISSION if d in ("commission", "refundcommission") else LineKind.FEE
    if a == "promotion":
        return LineKind.PROMOTION
    if "chargeback" in t or "a-to-z" in t:
        if "reversal" in t:
            return LineKind.CHARGEBACK_REVERSAL
        return LineKind.CHARGEBACK
    if a in _TAX_TYPES or (a == "itemprice" and "tax" in d) or "retrocharge" in t:
        return LineKind.TAX
    if a == "itemprice":
        if d == "shipping":
            return LineKind.SHIPPING
        return LineKind.REFUND if "refund" in t else LineKind.CHARGE
    if "reimbursement" in a or "reimbursement" in d:
        return LineKind.ADJUSTMENT
    if t == "servicefee" or any(word in d for word in _FEE_WORDS):
        return LineKind.FEE
    return LineKind.OTHER
