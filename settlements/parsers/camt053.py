"""ISO 20022 camt.053 (BankToCustomerStatement), versions .001.02 to .001.08 (formats.md §8a).

Streaming: the XML is fed to a pull parser one tag at a time (the bytes are cut before each
`<`), so every event's line is known and an entry's source text can be kept as its `raw`. Each
`Ntry` is turned into a line when it closes and then dropped from the tree, each `Stmt` when it
closes: memory holds one entry and one statement's header, whatever the file's size.

Safety: defusedxml's parser with DTDs refused outright, so no entity expansion (billion laughs)
and no external entity is ever read. camt is UTF-8 (ISO 20022): another declared encoding or
bytes that are not UTF-8 are refused, as is XML that does not close (a truncated file).

Meaning:
- Namespace-agnostic: any `Document/BkToCstmrStmt`; `Sts` as text (.02) or `<Sts><Cd>` (.08).
- Only booked entries (`BOOK`, or no status) become lines; pending and information entries do
  not move the booked balances.
- The sign comes from `CdtDbtInd` alone. ISO defines `RvslInd` as "this entry reverses an
  earlier one": a reversed credit is booked as DBIT, so it is already a debit (negative); the
  reversal is kept in `extra["reversal"]`. Flipping the sign again would book it twice.
- Opening balance OPBD (else PRCD, else the first ITBD), closing CLBD (else the last ITBD);
  where both exist, opening + Σ booked entries = closing or the file is refused (see
  `_bank.check_identity` for why a non-reconciling statement is refused).
- `TxsSummry` is a control total: the number, sum and net of the statement's entries must match.
- The batch is yielded when its `Stmt` closes, after its lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import IO, cast
from xml.etree.ElementTree import Element, TreeBuilder, XMLPullParser
from xml.etree.ElementTree import ParseError as XMLSyntaxError

from defusedxml.common import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from . import _bank
from .base import ColumnMapping, ParsedBatch, ParseError, Record

_CHUNK = 64 * 1024
_MAX_PIECE = 1024 * 1024  # one tag plus the text after it
_DECLARED_ENCODING = re.compile(r"<\?xml[^>]*encoding\s*=\s*[\"']([^\"']+)")
_USTRD_WIDTH = 140


def parse(stream: IO[bytes], *, options: ColumnMapping | None = None) -> Iterator[Record]:
    yield from _Reader().read(stream)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _text(elem: Element | None) -> str:
    return (elem.text or "").strip() if elem is not None else ""


@dataclass
class _Statement:
    row: int
    key: str = ""
    account: str = ""
    currency: str = ""
    opening: Decimal | None = None
    closing: Decimal | None = None
    closing_row: int = 0
    period: tuple[date | None, date | None] = (None, None)
    keys: _bank.LineKeys | None = None
    booked_total: Decimal = Decimal(0)
    # Every entry, whatever its status, as TxsSummry counts them: (number, sum) of each side.
    credits: tuple[int, Decimal] = (0, Decimal(0))
    debits: tuple[int, Decimal] = (0, Decimal(0))
    child_rows: dict[int, int] = field(default_factory=dict)  # id(child of Stmt) → its row


class _Reader:
    def __init__(self) -> None:
        self.ns = ""
        self.paths: dict[str, str] = {}  # "Refs/EndToEndId" → with the namespace, per step
        self.stack: list[Element] = []
        self.stmt: _Statement | None = None
        self.keys_seen: set[str] = set()
        self.raw: list[str] | None = None  # source text of the open Ntry
        self.ntry_row = 0
        self.line = 1

    def read(self, stream: IO[bytes]) -> Iterator[Record]:
        parser = XMLPullParser(
            events=("start", "end"),
            _parser=DefusedXMLParser(target=TreeBuilder(), forbid_dtd=True),
        )
        for piece in self._pieces(stream):
            text = _bank.decode(piece, self.line)
            if self.line == 1 and not self.stack:
                declared = _DECLARED_ENCODING.search(text)
                if declared and declared.group(1).lower().replace("_", "-") not in {
                    "utf-8",
                    "utf8",
                }:
                    raise ParseError(1, f"declared encoding {declared.group(1)}: camt is UTF-8")
            try:
                parser.feed(piece)
                # The pull parser queues what it found wrong with the piece, and raises it
                # from here (a second document after the first, a mismatched tag).
                events = list(cast("Iterator[tuple[str, Element]]", parser.read_events()))
            except XMLSyntaxError as exc:
                raise ParseError(exc.position[0], f"not well-formed XML: {exc.msg}") from None
            except DefusedXmlException as exc:
                raise ParseError(self.line, f"DTDs and entities are refused: {exc}") from None
            for event, elem in events:
                if event == "start":
                    self._start(elem)
                else:
                    yield from self._end(elem, text)
            if self.raw is not None:
                self.raw.append(text)
            self.line += piece.count(b"\n")
        try:
            parser.close()
        except XMLSyntaxError as exc:
            raise ParseError(exc.position[0], f"truncated or unclosed XML: {exc.msg}") from None

    def _pieces(self, stream: IO[bytes]) -> Iterator[bytes]:
        """The bytes cut before each `<`: one tag (and the text after it) per piece."""
        pending = b""
        while chunk := stream.read(_CHUNK):
            data = pending + chunk
            cut = data.rfind(b"<")
            if cut <= 0:
                pending = data
                if len(pending) > _MAX_PIECE:
                    raise ParseError(self.line, "text run longer than 1 MiB: not a statement")
                continue
            start = 0
            while (following := data.find(b"<", start + 1, cut + 1)) != -1:
                yield data[start:following]
                start = following
            pending = data[start:]
        if pending:
            yield pending

    def _path(self, path: str) -> str:
        qualified = self.paths.get(path)
        if qualified is None:
            qualified = self.paths[path] = "/".join(f"{self.ns}{s}" for s in path.split("/"))
        return qualified

    def _find(self, elem: Element, path: str) -> Element | None:
        return elem.find(self._path(path))

    def _findtext(self, elem: Element, path: str) -> str:
        return _text(elem.find(self._path(path)))

    def _start(self, elem: Element) -> None:
        depth = len(self.stack)
        self.stack.append(elem)
        name = _local(elem.tag)
        if depth == 0:
            self.ns = elem.tag[: len(elem.tag) - len(name)]
            if name != "Document":
                raise ParseError(self.line, f"not a camt.053 statement: root <{name}>")
        elif depth == 1 and name != "BkToCstmrStmt":
            raise ParseError(self.line, f"not a camt.053 statement: <{name}> in <Document>")
        elif depth == 2 and name == "Stmt":
            self.stmt = _Statement(row=self.line)
        elif depth == 3 and self.stmt is not None:
            if name == "Ntry":
                self.raw, self.ntry_row = [], self.line
            else:
                self.stmt.child_rows[id(elem)] = self.line

    def _end(self, elem: Element, text: str) -> Iterator[Record]:
        self.stack.pop()
        depth = len(self.stack)
        if self.stmt is None or depth not in (2, 3):
            return
        parent = self.stack[-1]
        name = _local(elem.tag)
        if depth == 3 and name == "Ntry":
            assert self.raw is not None
            self.raw.append(text[: text.index(">") + 1])
            raw, self.raw = "".join(self.raw), None
            yield from self._entry(elem, raw)
            parent.remove(elem)
        elif depth == 2 and name == "Stmt":
            yield self._finish(elem)
            self.stmt = None
            parent.remove(elem)

    def _header(self, stmt_elem: Element) -> _Statement:
        """The statement's key, account, currency, balances and period: all of them come
        before the first `Ntry` in the schema's order."""
        stmt = self.stmt
        assert stmt is not None
        if stmt.keys is not None:
            return stmt
        stmt.key = self._findtext(stmt_elem, "Id")
        if not stmt.key:
            raise ParseError(stmt.row, "statement without <Id>")
        if stmt.key in self.keys_seen:
            raise ParseError(stmt.row, f"statement {stmt.key} appears twice")
        self.keys_seen.add(stmt.key)
        stmt.account = self._findtext(stmt_elem, "Acct/Id/IBAN") or self._findtext(
            stmt_elem, "Acct/Id/Othr/Id"
        )
        stmt.keys = _bank.LineKeys(stmt.account)
        currency = self._findtext(stmt_elem, "Acct/Ccy")
        balances: dict[str, list[tuple[Decimal, date | None, int]]] = {}
        for bal in stmt_elem.iterfind(self._path("Bal")):
            row = stmt.child_rows.get(id(bal), stmt.row)
            code = self._findtext(bal, "Tp/CdOrPrtry/Cd") or self._findtext(
                bal, "Tp/CdOrPrtry/Prtry"
            )
            amt = self._find(bal, "Amt")
            ccy = _bank.currency_code(amt.get("Ccy") if amt is not None else "", row)
            currency = currency or ccy
            if ccy != currency:
                raise ParseError(row, f"{code} balance in {ccy} on a {currency} statement")
            amount = self._signed(bal, _text(amt), ccy, row, f"{code} balance")
            day = self._date(bal, "Dt", row, required=False)
            balances.setdefault(code, []).append((amount, day, row))
        stmt.currency = currency
        interim = balances.get("ITBD", [])
        opening_list = balances.get("OPBD") or balances.get("PRCD") or interim[:1]
        closing_list = balances.get("CLBD") or interim[1:]
        opening = opening_list[0] if opening_list else None
        closing = closing_list[-1] if closing_list else None
        if opening is not None:
            stmt.opening = opening[0]
        if closing is not None:
            stmt.closing, stmt.closing_row = closing[0], closing[2]
        start = self._date(stmt_elem, "FrToDt/FrDtTm", stmt.row, required=False)
        end = self._date(stmt_elem, "FrToDt/ToDtTm", stmt.row, required=False)
        stmt.period = (
            start or (opening[1] if opening else None),
            end or (closing[1] if closing else None),
        )
        return stmt

    def _signed(self, elem: Element, value: str, currency: str, row: int, what: str) -> Decimal:
        indicator = self._findtext(elem, "CdtDbtInd")
        if indicator not in ("CRDT", "DBIT"):
            raise ParseError(row, f"{what}: CdtDbtInd {indicator!r} is neither CRDT nor DBIT")
        amount = _bank.money(value, currency, row, what)
        return -amount if indicator == "DBIT" else amount

    def _date(self, elem: Element, path: str, row: int, *, required: bool) -> date | None:
        found = self._find(elem, path)
        value = _text(found)
        if found is not None and not value:  # a <Dt> or <BookgDt> holding <Dt>/<DtTm>
            value = self._findtext(found, "Dt") or self._findtext(found, "DtTm")
        if not value:
            if required:
                raise ParseError(row, f"no <{path}>")
            return None
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            raise ParseError(row, f"<{path}> {value!r} is not a date") from None

    def _entry(self, ntry: Element, raw: str) -> Iterator[Record]:
        row = self.ntry_row
        stmt_elem = self.stack[-1]
        stmt = self._header(stmt_elem)
        amt = self._find(ntry, "Amt")
        currency = _bank.currency_code(amt.get("Ccy") if amt is not None else "", row)
        stmt.currency = stmt.currency or currency
        if currency != stmt.currency:
            raise ParseError(row, f"entry in {currency} on a {stmt.currency} statement")
        amount = self._signed(ntry, _text(amt), currency, row, "entry amount")
        if amount < 0:
            stmt.debits = (stmt.debits[0] + 1, stmt.debits[1] - amount)
        else:
            stmt.credits = (stmt.credits[0] + 1, stmt.credits[1] + amount)
        sts = self._find(ntry, "Sts")
        status = _text(sts) or (self._findtext(sts, "Cd") if sts is not None else "")
        if status not in ("", "BOOK"):
            return
        booked = self._date(ntry, "BookgDt", row, required=False) or self._date(
            ntry, "ValDt", row, required=True
        )
        assert booked is not None
        stmt.booked_total += amount
        details = ntry.findall(self._path("NtryDtls/TxDtls"))
        bank_ref = self._findtext(ntry, "AcctSvcrRef")
        if not bank_ref and len(details) == 1:
            bank_ref = self._findtext(details[0], "Refs/AcctSvcrRef")
        related = ""
        texts: list[str] = []
        for tx in details:
            end_to_end = self._findtext(tx, "Refs/EndToEndId")
            if end_to_end and end_to_end != "NOTPROVIDED" and not related:
                related = end_to_end
            ustrd = [_text(u) for u in tx.iterfind(self._path("RmtInf/Ustrd"))]
            texts.append(_bank.join_wrapped(ustrd, _USTRD_WIDTH))
            texts += [_text(r) for r in tx.iterfind(self._path("RmtInf/Strd/CdtrRefInf/Ref"))]
            texts.append(self._findtext(tx, "AddtlTxInf"))
        texts.append(self._findtext(ntry, "AddtlNtryInf"))
        description = " ".join(dict.fromkeys(t for t in texts if t))
        assert stmt.keys is not None
        line_key = stmt.keys.key(
            bank_ref=bank_ref, booked=booked, amount=amount, text=f"{related} {description}"
        )
        extra = {
            "value_date": self._findtext(ntry, "ValDt/Dt") or self._findtext(ntry, "ValDt/DtTm"),
            "entry_ref": self._findtext(ntry, "NtryRef"),
            "bank_tx_code": "-".join(
                v
                for v in (
                    self._findtext(ntry, "BkTxCd/Domn/Cd"),
                    self._findtext(ntry, "BkTxCd/Domn/Fmly/Cd"),
                    self._findtext(ntry, "BkTxCd/Domn/Fmly/SubFmlyCd"),
                )
                if v
            ),
            "reversal": "true" if self._findtext(ntry, "RvslInd") in ("true", "1") else "",
            "transactions": str(len(details)) if len(details) > 1 else "",
        }
        yield _bank.bank_line(
            row=row,
            batch_key=stmt.key,
            line_key=line_key,
            credit=amount > 0 or (amount == 0 and self._findtext(ntry, "CdtDbtInd") == "CRDT"),
            amount=amount,
            currency=currency,
            booked=booked,
            payment_ref=bank_ref,
            related_ref=related,
            description=description,
            raw=raw,
            extra={k: v for k, v in extra.items() if v},
        )

    def _finish(self, stmt_elem: Element) -> ParsedBatch:
        stmt = self._header(stmt_elem)
        if not stmt.currency:
            raise ParseError(stmt.row, f"statement {stmt.key}: no currency (no Ccy, no balance)")
        self._check_summary(stmt_elem, stmt)
        _bank.check_identity(
            stmt.closing_row or stmt.row,
            f"statement {stmt.key}",
            stmt.currency,
            stmt.opening,
            stmt.booked_total,
            stmt.closing,
        )
        return ParsedBatch(
            key=stmt.key,
            currency=stmt.currency,
            period_start=stmt.period[0],
            period_end=stmt.period[1],
            opening_balance=stmt.opening,
            closing_balance=stmt.closing,
            account=stmt.account,
        )

    def _check_summary(self, stmt_elem: Element, stmt: _Statement) -> None:
        summary = self._find(stmt_elem, "TxsSummry")
        if summary is None:
            return
        row = stmt.child_rows.get(id(summary), stmt.row)
        (n_cr, sum_cr), (n_db, sum_db) = stmt.credits, stmt.debits
        for path, count, total, net in (
            ("TtlNtries", n_cr + n_db, sum_cr + sum_db, sum_cr - sum_db),
            ("TtlCdtNtries", n_cr, sum_cr, None),
            ("TtlDbtNtries", n_db, sum_db, None),
        ):
            group = self._find(summary, path)
            if group is None:
                continue
            stated = self._findtext(group, "NbOfNtries")
            if stated and (not stated.isdigit() or int(stated) != count):
                self._summary_off(stmt, row, f"{path}/NbOfNtries", stated, count)
            stated = self._findtext(group, "Sum")
            if stated and _bank.money(stated, stmt.currency, row, f"{path}/Sum") != total:
                self._summary_off(stmt, row, f"{path}/Sum", stated, total)
            stated = self._findtext(group, "TtlNetNtryAmt")
            if stated and net is not None:
                value = _bank.money(stated, stmt.currency, row, f"{path}/TtlNetNtryAmt")
                if self._findtext(group, "CdtDbtInd") == "DBIT":
                    value = -value
                if value != net:
                    self._summary_off(stmt, row, f"{path}/TtlNetNtryAmt", str(value), net)

    @staticmethod
    def _summary_off(stmt: _Statement, row: int, what: str, stated: str, found: object) -> None:
        raise ParseError(row, f"statement {stmt.key}: {what} says {stated}, the entries {found}")
