"""PayPal settlement report, STL (formats.md §5): a CSV whose first column names the record type.

    RH report header   FH file header   SH section header (one per account)   CH column names
    SB one transaction   SF section footer (per currency)   SC section record count
    RF report footer (per currency)   RC report record count   FF file footer (record count)

SB fields are read by their CH name (whitespace and case ignored: the current "Transaction
Debit or Credit" and the old "TransactionDebitorCredit" are one column). Amounts are unsigned
integer minor units with a CR/DR column each for gross and fee: 10000 is 100.00 USD and ¥10000.
Fee events (T01xx, and the fee reversals T1108 and T1109) carry their amount in `fee` (gross 0),
like fee lines from other providers.

PayPal pays out nothing by itself, so a batch is a section's day for one currency: key
`<account>:<period start date>:<currency>`, announced at that currency's SF with the SF's
beginning and ending balances; `payout_amount` stays None (withdrawals are lines, T04xx).

The file is refused when a trailer is missing (every section needs an SF per currency it used
and an SC; the report needs RF and RC; FF when there was an FH: a cut file lacks them), when a
count (SC, RC, FF) differs from the SB rows seen, or when an SF or RF total of gross or fee
credits and debits differs from the rows'. `options` is not used.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO, Final

from retailsync.core.money import exponent

from .base import ColumnMapping, LineKind, ParsedBatch, ParsedLine, ParseError, Record
from .csvread import CsvSource, currency, header_index, localize, normalize, require

REQUIRED: Final = (
    "Transaction ID",
    "Transaction Event Code",
    "Transaction Debit or Credit",
    "Gross Transaction Amount",
    "Gross Transaction Currency",
    "Fee Debit or Credit",
    "Fee Amount",
)
OPTIONAL: Final = (
    "Invoice ID",
    "PayPal Reference ID",
    "PayPal Reference ID Type",
    "Transaction Initiation Date",
    "Transaction Completion Date",
    "Fee Currency",
    "Custom Field",
    "Payment Tracking ID",
    "Store ID",
)
SIGN: Final = {"CR": 1, "DR": -1}
TOTALS: Final = ("gross credits", "gross debits", "fee credits", "fee debits")
# T-codes by exact code first, then by group (the two digits after T).
CODES: Final = {
    "T1105": LineKind.RESERVE_RELEASE,  # hold released
    "T1108": LineKind.FEE,  # fee reversal: a fee given back, not a refund to a buyer
    "T1109": LineKind.FEE,  # fee refund
    "T1110": LineKind.RESERVE_HOLD,  # hold for a dispute investigation
    "T1111": LineKind.RESERVE_RELEASE,  # that hold cancelled
    "T1201": LineKind.CHARGEBACK,
    "T1202": LineKind.CHARGEBACK_REVERSAL,
}
GROUPS: Final = {
    "00": LineKind.CHARGE,
    "01": LineKind.FEE,
    "04": LineKind.PAYOUT,
    "11": LineKind.REFUND,
    "12": LineKind.ADJUSTMENT,
    "15": LineKind.RESERVE_HOLD,
}


def kind_of(code: str) -> LineKind:
    code = code.strip().upper()
    return CODES.get(code) or GROUPS.get(code[1:3], LineKind.OTHER)


@dataclass
class _Section:
    row: int
    account: str
    start: datetime
    end: datetime
    columns: dict[str, int | None] = field(default_factory=dict)  # REQUIRED + OPTIONAL → index
    width: int = 0
    rows: int = 0
    totals: dict[str, list[int]] = field(default_factory=dict)  # currency → TOTALS, minor units


@dataclass
class _Report:
    header_row: int = 0
    account: str = ""
    rows: int = 0
    file_rows: int = 0
    file_open: bool = False
    totals: dict[str, list[int]] = field(default_factory=dict)
    footed: bool = False
    counted: bool = False
    section: _Section | None = None


def parse(stream: IO[bytes], *, options: ColumnMapping | None = None) -> Iterator[Record]:
    src = CsvSource(stream)
    report = _Report()
    for fields in src:
        if not fields:
            continue
        row = src.row
        kind = fields[0]
        if not report.header_row and kind != "RH":
            raise ParseError(row, f"the report starts with {kind!r}, not with its RH header")
        section = report.section
        if kind == "SB":
            if section is None or not section.columns:
                raise ParseError(row, "a transaction (SB) outside a section with column names (CH)")
            if len(fields) != section.width:
                raise src.bad_width(len(fields), section.width)
            line, units = _line(fields, row, src.raw, section)
            for totals in (section.totals, report.totals):
                sums = totals.setdefault(line.currency, [0, 0, 0, 0])
                for i, amount in enumerate(units):
                    sums[i] += amount
            section.rows += 1
            report.rows += 1
            report.file_rows += 1
            yield line
        elif kind == "RH":
            if report.header_row:
                raise ParseError(row, "a second report header (RH)")
            report.header_row = row
            report.account = fields[3] if len(fields) > 3 else ""
        elif kind == "FH":
            report.file_open, report.file_rows = True, 0
        elif kind == "SH":
            if section is not None:
                raise ParseError(row, f"the section of row {section.row} has no record count (SC)")
            report.section = _header(fields, row, report.account)
        elif kind == "CH":
            if section is None:
                raise ParseError(row, "column names (CH) outside a section")
            index = header_index(fields)
            require(index, REQUIRED, row)
            section.columns = {name: index.get(normalize(name)) for name in REQUIRED + OPTIONAL}
            section.width = len(fields)
        elif kind == "SF":
            if section is None:
                raise ParseError(row, "a section footer (SF) outside a section")
            code, footer = _footer(fields, row)
            used = section.totals.pop(code) if code in section.totals else None
            _check(used or [0, 0, 0, 0], footer, row, f"SF for {code}")
            if used is not None:  # the currency had transactions in this section
                yield _batch(section, code, fields, row)
        elif kind == "SC":
            if section is None:
                raise ParseError(row, "a section record count (SC) outside a section")
            _count(fields, row, section.rows, "in the section")
            if section.totals:
                raise ParseError(row, f"no section footer (SF) for {', '.join(section.totals)}")
            report.section = None
        elif kind == "RF":
            code, footer = _footer(fields, row)
            _check(report.totals.pop(code, [0, 0, 0, 0]), footer, row, f"RF for {code}")
            report.footed = True
        elif kind == "RC":
            _count(fields, row, report.rows, "in the report")
            report.counted = True
        elif kind == "FF":
            if len(fields) > 1 and fields[1]:
                _count(fields, row, report.file_rows, "in the file")
            report.file_open = False
        else:
            raise ParseError(row, f"unknown record type {kind!r}")

    end = src.row + 1
    if not report.header_row:
        raise ParseError(0, "the file is empty")
    if report.section is not None:
        raise ParseError(end, "the file ends inside a section, without its SC (truncated?)")
    missing = [name for name, seen in (("RF", report.footed), ("RC", report.counted)) if not seen]
    if missing:
        raise ParseError(
            end, f"the file ends without the report's {' and '.join(missing)} (truncated?)"
        )
    if report.file_open:
        raise ParseError(end, "the file ends without its file footer, FF (truncated?)")
    if report.totals:
        raise ParseError(end, f"no report footer (RF) for {', '.join(report.totals)}")


def _header(fields: list[str], row: int, report_account: str) -> _Section:
    if len(fields) < 3:
        raise ParseError(row, "the section header (SH) has no period")
    account = fields[3] if len(fields) > 3 and fields[3] else report_account
    if not account:
        raise ParseError(row, "no account id in the section (SH) or report (RH) header")
    start = _when(fields[1], row, "SH period start")
    end = _when(fields[2], row, "SH period end")
    if start is None or end is None:
        raise ParseError(row, "the section header (SH) has no period")
    return _Section(row=row, account=account, start=start, end=end)


def _line(fields: list[str], row: int, raw: str, section: _Section) -> tuple[ParsedLine, list[int]]:
    """The line, and its (gross credit, gross debit, fee credit, fee debit) in minor units."""
    columns = section.columns

    def get(name: str) -> str:
        i = columns[name]
        return fields[i].strip() if i is not None else ""

    txn = get("Transaction ID")
    if not txn:
        raise ParseError(row, "Transaction ID is empty")
    code = currency(get("Gross Transaction Currency"), row, "Gross Transaction Currency")
    gross_units = _units(get("Gross Transaction Amount"), row, "Gross Transaction Amount")
    gross_sign = _sign(
        get("Transaction Debit or Credit"), gross_units, row, "Transaction Debit or Credit"
    )
    fee_units = _units(get("Fee Amount"), row, "Fee Amount")
    fee_sign = _sign(get("Fee Debit or Credit"), fee_units, row, "Fee Debit or Credit")
    fee_code = get("Fee Currency").upper()
    if fee_units and fee_code and fee_code != code:
        raise ParseError(row, f"Fee Currency: {fee_code} is not the gross currency {code}")
    scale = exponent(code)
    gross = Decimal(gross_sign * gross_units).scaleb(-scale)
    fee = Decimal(fee_sign * fee_units).scaleb(-scale)
    event = get("Transaction Event Code")
    kind = kind_of(event)
    if kind is LineKind.FEE:
        gross, fee = Decimal(0).scaleb(-scale), gross + fee
    posted = get("Transaction Completion Date") or get("Transaction Initiation Date")
    extra = {
        key: value
        for key, value in (
            ("reference_id_type", get("PayPal Reference ID Type")),
            ("custom", get("Custom Field")),
            ("payment_tracking_id", get("Payment Tracking ID")),
            ("store_id", get("Store ID")),
            ("initiated_at", get("Transaction Initiation Date")),
        )
        if value
    }
    line = ParsedLine(
        row=row,
        batch_key=_key(section, code),
        line_key=txn,
        kind=kind,
        currency=code,
        gross=gross,
        fee=fee,
        net=gross + fee,
        posted_at=_utc(_when(posted, row, "Transaction Completion Date")),
        order_ref=get("Invoice ID"),
        payment_ref=txn,
        related_ref=get("PayPal Reference ID"),
        payment_method="paypal",
        description=event,
        raw=raw,
        extra=extra,
    )
    units = [0, 0, 0, 0]
    units[0 if gross_sign > 0 else 1] = gross_units
    units[2 if fee_sign > 0 else 3] = fee_units
    return line, units


def _key(section: _Section, code: str) -> str:
    return f"{section.account}:{section.start.date().isoformat()}:{code}"


def _batch(section: _Section, code: str, fields: list[str], row: int) -> ParsedBatch:
    """The section's batch for one currency; SF fields 6-9 are the beginning and ending balance,
    each after its CR/DR."""
    balances: list[Decimal | None] = [None, None]
    for n, (i_sign, i_amount) in enumerate(((6, 7), (8, 9))):
        if len(fields) > i_amount and fields[i_amount]:
            units = _units(fields[i_amount], row, "SF balance")
            balances[n] = Decimal(_sign(fields[i_sign], units, row, "SF balance") * units).scaleb(
                -exponent(code)
            )
    return ParsedBatch(
        key=_key(section, code),
        currency=code,
        period_start=section.start.date(),
        period_end=section.end.date(),
        opening_balance=balances[0],
        closing_balance=balances[1],
        account=section.account,
    )


def _footer(fields: list[str], row: int) -> tuple[str, list[int]]:
    """An SF or RF: currency, then total gross credits, gross debits, fee credits, fee debits."""
    if len(fields) < 6:
        raise ParseError(
            row, f"the {fields[0]} footer has {len(fields)} fields, not the 6 or more it needs"
        )
    code = currency(fields[1], row, f"{fields[0]} currency")
    return code, [
        _units(fields[2 + i], row, f"{fields[0]} {name}") for i, name in enumerate(TOTALS)
    ]


def _check(seen: list[int], footer: list[int], row: int, what: str) -> None:
    for name, ours, theirs in zip(TOTALS, seen, footer, strict=True):
        if ours != theirs:
            raise ParseError(
                row, f"{what}: {name} total {theirs} (minor units), but the rows add up to {ours}"
            )


def _count(fields: list[str], row: int, seen: int, where: str) -> None:
    text = fields[1].strip() if len(fields) > 1 else ""
    if not text.isdigit():
        raise ParseError(row, f"{fields[0]}: {text!r} is not a record count")
    if int(text) != seen:
        raise ParseError(
            row, f"{fields[0]} says {int(text)} transactions {where}, but {seen} SB rows were read"
        )


def _units(text: str, row: int, column: str) -> int:
    if not text:
        return 0
    if not (text.isdigit() and text.isascii()):
        raise ParseError(row, f"{column}: {text!r} is not an amount in minor units")
    return int(text)


def _sign(text: str, units: int, row: int, column: str) -> int:
    sign = SIGN.get(text.strip().upper())
    if sign is None:
        if units == 0 and not text.strip():
            return 1
        raise ParseError(row, f"{column}: {text!r} is neither CR nor DR")
    return sign


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def _when(text: str, row: int, column: str) -> datetime | None:
    """`2016/03/07 10:15:02 -0800` (an offset or a zone label), or ISO 8601; UTC when neither.
    Aware, on the file's own clock (the section's dates are the dates it shows)."""
    text = text.strip()
    if not text:
        return None
    iso = text.replace("/", "-")
    head, _, tail = iso.rpartition(" ")
    try:
        if head and tail[:1] in "+-" and tail[1:].replace(":", "").isdigit():
            return datetime.fromisoformat(head + tail)
        if head and tail.isalpha():
            local = localize(datetime.fromisoformat(head), tail)
            if local is not None:
                return local
        else:
            value = datetime.fromisoformat(iso)
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value
    except ValueError:
        pass
    raise ParseError(row, f"{column}: {text!r} is not a date and time")
