"""BAI2 cash management files (formats.md §8b), through the `bai2` package.

Named bank_bai2 so that `import bai2` inside this package still finds the package.

The package assembles records (joining `88` continuations) and parses each record's fields,
type codes (which say credit or debit) and funds-type availability; its whole-file parser keeps
the file in memory, so we drive its record parsers ourselves, one record at a time, and check
the structure and the control totals as we go:
- `49` account trailer: control total = Σ of the `03` summary amounts and the `16` amounts, and
  the number of records from `03` to `49` (continuations included);
- `98` group trailer: control total = Σ of its `49` totals, number of accounts and of records;
- `99` file trailer: control total = Σ of the `98` totals, number of groups and of records;
- a file that ends before its `99` is truncated. Any disagreement refuses the file with the
  trailer's line.

One batch per account and as-of date (`account:YYYY-MM-DD`), yielded at its `03` before its
lines: opening ledger `010`, closing ledger `015`; where both are given, opening + Σ entries =
closing (see `_bank.check_identity`). Amounts carry the currency's implied decimals (2 for USD,
0 for JPY). A `16` has no date of its own: its booking date is the group's as-of date (the
value date, for funds type V, is kept in `extra`). Type codes without a direction (`890`
non-monetary information) are skipped when their amount is zero and refused otherwise, as are
codes the package does not know (bank-specific 9xx): we cannot tell which way the money went.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import IO, Any

from bai2.constants import TypeCodeTransaction
from bai2.exceptions import NotSupportedYetException, ParsingException
from bai2.helpers import record_generator
from bai2.parsers import (
    AccountIdentifierParser,
    AccountTrailerParser,
    Bai2FileHeaderParser,
    Bai2FileTrailerParser,
    GroupHeaderParser,
    GroupTrailerParser,
    TransactionDetailParser,
)

from retailsync.core.money import from_minor

from . import _bank
from .base import ColumnMapping, ParsedBatch, ParseError, Record

_OPENING_LEDGER = "010"
_CLOSING_LEDGER = "015"


def parse(stream: IO[bytes], *, options: ColumnMapping | None = None) -> Iterator[Record]:
    yield from _Reader(_Records(_bank.read_lines(stream))).read()


class _EndOfFile:
    code = None
    rows: list[tuple[Any, str]] = []


class _Records:
    """The package's record iterator (`current_record`, `advance()`), with each record's line
    number, refusing what the package would choke on."""

    def __init__(self, lines: Iterator[tuple[int, str]]) -> None:
        self._numbers: deque[int] = deque()
        self.row = self.last_line = 0
        self.current_record: Any = _EndOfFile()

        def texts() -> Iterator[str]:
            for number, text in lines:
                if text.strip():
                    self._numbers.append(number)
                    self.last_line = number
                    yield text.strip()

        self._records = record_generator(texts())
        try:
            self.advance()
        except StopIteration:
            raise ParseError(0, "empty file") from None

    def advance(self) -> None:
        try:
            record = next(self._records)
        except StopIteration:
            self.current_record, self.row = _EndOfFile(), self.last_line
            raise
        except ParseError:  # from reading the lines: raised through the package's generator
            raise
        except RuntimeError:  # the package's generator, started on no line at all
            raise ParseError(0, "empty file") from None
        except (ValueError, KeyError) as exc:  # an unknown record code, or 88 with nothing before
            line = self._numbers[-1] if self._numbers else 0
            raise ParseError(line, f"not a BAI2 record: {exc}") from None
        self.current_record = record
        self.row = self._numbers[0]
        for _ in record.rows:
            self._numbers.popleft()

    @property
    def code(self) -> str:
        code = self.current_record.code
        return "EOF" if code is None else str(code.value)

    @property
    def raw(self) -> str:
        return "\n".join(f"{code.value},{text}" for code, text in self.current_record.rows)


@dataclass
class _Account:
    row: int
    key: str
    account: str
    currency: str
    booked: date
    opening: Decimal | None
    closing: Decimal | None
    control: int
    records: int
    keys: _bank.LineKeys
    total: Decimal = Decimal(0)


class _Reader:
    def __init__(self, records: _Records) -> None:
        self.records = records
        self.batch_keys: set[str] = set()

    def _parse(self, parser_class: type[Any]) -> Any:
        """One record through the package's parser for it; its mistakes become ParseErrors."""
        records = self.records
        row, raw = records.row, records.raw
        try:
            model = parser_class(records).parse()
        except ParseError:
            raise
        except NotSupportedYetException as exc:
            raise ParseError(row, f"unsupported in {raw!r}: {exc}") from None
        except (ParsingException, ValueError, IndexError, TypeError) as exc:
            raise ParseError(row, f"malformed record {raw!r}: {exc}") from None
        model.row, model.raw = row, raw
        return model

    def _expect(self, *codes: str) -> str:
        code = self.records.code
        if code == "EOF":
            wanted = " or ".join(codes)
            raise ParseError(self.records.row, f"truncated file: it ends where {wanted} is due")
        if code not in codes:
            raise ParseError(self.records.row, f"record {code} where {' or '.join(codes)} is due")
        return code

    def read(self) -> Iterator[Record]:
        self._expect("01")
        self._parse(Bai2FileHeaderParser)
        file_records, file_total, groups = 1, 0, 0
        while self._expect("02", "99") == "02":
            group_records, group_total = yield from self._group()
            file_records += group_records
            file_total += group_total
            groups += 1
        trailer = self._parse(Bai2FileTrailerParser)
        file_records += len(trailer.rows)
        if self.records.code != "EOF":
            raise ParseError(self.records.row, "records after the 99 file trailer")
        self._totals(trailer, "file", trailer.file_control_total, file_total)
        self._count(trailer, "groups", trailer.number_of_groups, groups)
        self._count(trailer, "records", trailer.number_of_records, file_records)

    def _group(self) -> Generator[Record, None, tuple[int, int]]:
        header = self._parse(GroupHeaderParser)
        if header.as_of_date is None:
            raise ParseError(header.row, "group header without an as-of date")
        currency = _bank.currency_code(header.currency, header.row)
        records, total, accounts = len(header.rows), 0, 0
        while self._expect("03", "98") == "03":
            account_records, account_total = yield from self._account(header.as_of_date, currency)
            records += account_records
            total += account_total
            accounts += 1
        trailer = self._parse(GroupTrailerParser)
        records += len(trailer.rows)
        self._totals(trailer, "group", trailer.group_control_total, total)
        self._count(trailer, "accounts", trailer.number_of_accounts, accounts)
        self._count(trailer, "records", trailer.number_of_records, records)
        return records, total

    def _account(
        self, as_of: date, group_currency: str
    ) -> Generator[Record, None, tuple[int, int]]:
        ident = self._parse(AccountIdentifierParser)
        row = ident.row
        currency = _bank.currency_code(ident.currency or group_currency, row)
        if not ident.customer_account_number:
            raise ParseError(row, "account record without an account number")
        balances: dict[str, Decimal] = {}
        control = 0
        for item in ident.summary_items:
            control += item.amount or 0
            if item.type_code is None and item.amount is None:
                continue  # an item left empty (`,,,,`): nothing summarised
            if item.type_code is None:
                raise ParseError(row, "summary without a type code")
            if (
                item.type_code.code in (_OPENING_LEDGER, _CLOSING_LEDGER)
                and item.amount is not None
            ):
                balances[item.type_code.code] = from_minor(item.amount, currency)
        account = _Account(
            row=row,
            key=f"{ident.customer_account_number}:{as_of.isoformat()}",
            account=ident.customer_account_number,
            currency=currency,
            booked=as_of,
            opening=balances.get(_OPENING_LEDGER),
            closing=balances.get(_CLOSING_LEDGER),
            control=control,
            records=len(ident.rows),
            keys=_bank.LineKeys(ident.customer_account_number),
        )
        if account.key in self.batch_keys:
            raise ParseError(row, f"account {account.account} appears twice for {as_of}")
        self.batch_keys.add(account.key)
        yield ParsedBatch(
            key=account.key,
            currency=currency,
            period_start=as_of,
            period_end=as_of,
            opening_balance=account.opening,
            closing_balance=account.closing,
            account=account.account,
        )
        while self._expect("16", "49") == "16":
            line = self._detail(account)
            if line is not None:
                yield line
        trailer = self._parse(AccountTrailerParser)
        account.records += len(trailer.rows)
        self._totals(trailer, "account", trailer.account_control_total, account.control)
        self._count(trailer, "records", trailer.number_of_records, account.records)
        _bank.check_identity(
            row,
            f"account {account.account} on {as_of}",
            currency,
            account.opening,
            account.total,
            account.closing,
        )
        return account.records, account.control

    def _detail(self, account: _Account) -> Record | None:
        detail = self._parse(TransactionDetailParser)
        account.records += len(detail.rows)
        if detail.amount is None or detail.amount < 0:
            raise ParseError(detail.row, f"transaction amount {detail.amount!r} is not a number")
        account.control += detail.amount
        if detail.type_code is None:
            raise ParseError(detail.row, "transaction without a type code")
        direction = detail.type_code.transaction
        if direction not in (TypeCodeTransaction.credit, TypeCodeTransaction.debit):
            if detail.amount == 0:
                return None
            raise ParseError(
                detail.row,
                f"type code {detail.type_code.code} ({detail.type_code.description}) "
                "does not say credit or debit",
            )
        credit = direction is TypeCodeTransaction.credit
        magnitude = from_minor(detail.amount, account.currency)
        amount = magnitude if credit else -magnitude
        account.total += amount
        bank_ref = (detail.bank_reference or "").strip()
        customer_ref = (detail.customer_reference or "").strip()
        text = " ".join((detail.text or "").split())
        # A funds type left blank (NatWest, SVB) is Z, availability unknown, as the spec defaults.
        funds = detail.funds_type.value if detail.funds_type is not None else "Z"
        extra = {"type_code": detail.type_code.code, "funds_type": funds}
        value_date = (detail.availability or {}).get("date")
        if value_date is not None:
            extra["value_date"] = value_date.isoformat()
        return _bank.bank_line(
            row=detail.row,
            batch_key=account.key,
            line_key=account.keys.key(
                bank_ref=bank_ref,
                booked=account.booked,
                amount=amount,
                text=f"{customer_ref} {text}",
            ),
            credit=credit,
            amount=amount,
            currency=account.currency,
            booked=account.booked,
            payment_ref=bank_ref,
            related_ref=customer_ref,
            description=text,
            raw=detail.raw,
            extra=extra,
        )

    @staticmethod
    def _totals(trailer: Any, what: str, stated: int | None, found: int) -> None:
        if stated != found:
            raise ParseError(
                trailer.row, f"{what} control total is {stated}, the records add up to {found}"
            )

    @staticmethod
    def _count(trailer: Any, what: str, stated: int | None, found: int) -> None:
        if stated != found:
            raise ParseError(trailer.row, f"trailer says {stated} {what}, the file has {found}")
