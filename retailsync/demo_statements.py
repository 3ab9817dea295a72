"""The demo's two files written record by record and closed by their own totals: PayPal's
settlement report (STL: typed records, section and report footers that must agree with the
rows) and the bank's camt.053 statement (XML, opening and closing balances that must add up).
Like `demo_settlements`, from plain figures only, so the same orders give the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from xml.sax.saxutils import escape

from retailsync.core.money import exponent

from .demo_settlements import ZERO, Reversal, Sale, token

PAYPAL_COLUMNS = (
    "Transaction ID|Invoice ID|PayPal Reference ID|PayPal Reference ID Type|"
    "Transaction Event Code|Transaction Initiation Date|Transaction Completion Date|"
    "Transaction  Debit or Credit|Gross Transaction Amount|Gross Transaction Currency|"
    "Fee Debit or Credit|Fee Amount|Fee Currency|Custom Field|Consumer ID|Payment Tracking ID|"
    "Store ID"
)


def _q(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def paypal_stl(
    account: str,
    currency: str,
    sales: Sequence[Sale],
    refunds: Sequence[Reversal],
    chargebacks: Sequence[Reversal],
    withdrawn_at: datetime,
) -> tuple[bytes, Decimal]:
    """A settlement report (STL) with one section over the period: sales (T0006), refunds
    (T1107), chargebacks (T1201) and the withdrawal to the bank (T0400) that empties it; text
    quoted, amounts in minor units, the footers' totals. And the amount withdrawn."""
    scale = Decimal(1).scaleb(exponent(currency))
    totals = [0, 0, 0, 0]  # gross credits, gross debits, fee credits, fee debits
    body: list[tuple[datetime, str]] = []

    def sb(
        txn: str, invoice: str, ref: str, code: str, at: datetime, gross: Decimal, fee: Decimal
    ) -> None:
        g, f = int(abs(gross) * scale), int(abs(fee) * scale)
        totals[0 if gross >= 0 else 1] += g
        totals[2 if fee >= 0 else 3] += f
        when = f"{at:%Y/%m/%d %H:%M:%S} +0000"
        side = (_q("CR" if gross >= 0 else "DR"), _q("CR" if fee >= 0 else "DR"))
        fields = [
            _q("SB"),
            _q(txn),
            _q(invoice),
            _q(ref),
            _q("TXN" if ref else ""),
            _q(code),
            when,
            when,
            side[0],
            str(g),
            _q(currency),
            side[1],
            str(f),
            _q(currency),
            *[_q("")] * 4,
        ]
        body.append((at, ",".join(fields)))

    for s in sales:
        sb(s.payment_ref, s.order_ref, "", "T0006", s.at, s.gross, -s.fee)
    for r in refunds:
        sb(r.ref, r.order_ref, r.payment_ref, "T1107", r.at, -r.amount, ZERO)
    for c in chargebacks:
        sb(c.ref, c.order_ref, c.payment_ref, "T1201", c.at, -c.amount, -c.fee)
    net = Decimal(totals[0] - totals[1] + totals[2] - totals[3]) / scale
    sb(token("", f"{account}{withdrawn_at}", 17), "", "", "T0400", withdrawn_at, -net, ZERO)
    body.sort(key=lambda b: b[0])
    start, end, count = body[0][0], body[-1][0], len(body)
    footer = f"{_q(currency)},{','.join(map(str, totals))},{','.join([_q('CR'), '0'] * 6)},{count}"
    lines = [
        f'"RH",{end + timedelta(hours=6):%Y/%m/%d %H:%M:%S} +0000,"A",{_q(account)},008',
        '"FH",01',
        f'"SH",{start:%Y/%m/%d} 00:00:00 +0000,{end:%Y/%m/%d} 23:59:59 +0000,{_q(account)},""',
        ",".join(_q(c) for c in ["CH", *PAYPAL_COLUMNS.split("|")]),
        *(line for _, line in body),
        f'"SF",{footer}',
        f'"SC",{count}',
        f'"RF",{footer}',
        f'"RC",{count}',
        f'"FF",{count}',
    ]
    return "".join(line + "\n" for line in lines).encode(), net


@dataclass(frozen=True)
class Entry:
    """A bank statement entry: a payout credited (positive) or a debit, with its text."""

    amount: Decimal
    on: date
    text: str


@dataclass(frozen=True)
class Statement:
    """One account's statement: its opening balance and what was booked."""

    account: str  # an IBAN, or the bank's own account number
    currency: str
    opening: Decimal
    entries: tuple[Entry, ...]


def camt053(bank: str, statements: Sequence[Statement]) -> bytes:
    """One camt.053.001.02 message, a statement per account, balances that add up."""
    end = max(e.on for s in statements for e in s.entries)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>\n'
        f" <GrpHdr><MsgId>{bank}/{end:%Y%m%d}</MsgId><CreDtTm>{end}T18:00:00Z</CreDtTm></GrpHdr>\n"
    ]
    for s in statements:
        start = min(e.on for e in s.entries)
        closing = s.opening + sum((e.amount for e in s.entries), ZERO)
        iban = s.account[:2].isalpha()
        account = f"<IBAN>{s.account}</IBAN>" if iban else f"<Othr><Id>{s.account}</Id></Othr>"
        parts.append(
            f" <Stmt><Id>{bank}-{s.currency}-{end:%Y%m%d}</Id><CreDtTm>{end}T18:00:00Z</CreDtTm>\n"
            f"  <FrToDt><FrDtTm>{start}T00:00:00Z</FrDtTm><ToDtTm>{end}T23:59:59Z</ToDtTm>"
            f"</FrToDt>\n  <Acct><Id>{account}</Id><Ccy>{s.currency}</Ccy></Acct>\n"
            f"{_balance('OPBD', s.opening, s.currency, start)}"
            f"{_balance('CLBD', closing, s.currency, end)}"
        )
        for n, e in enumerate(sorted(s.entries, key=lambda e: (e.on, e.amount)), 1):
            parts.append(
                f'  <Ntry><Amt Ccy="{s.currency}">{abs(e.amount):.2f}</Amt>'
                f"<CdtDbtInd>{'CRDT' if e.amount >= 0 else 'DBIT'}</CdtDbtInd><Sts>BOOK</Sts>\n"
                f"   <BookgDt><Dt>{e.on}</Dt></BookgDt><ValDt><Dt>{e.on}</Dt></ValDt>"
                f"<AcctSvcrRef>{bank}{e.on:%y%m%d}{s.currency}{n:03d}</AcctSvcrRef>\n"
                "   <NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>\n"
                f"    <RmtInf><Ustrd>{escape(e.text)}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\n"
            )
        parts.append(" </Stmt>\n")
    parts.append("</BkToCstmrStmt></Document>\n")
    return "".join(parts).encode()


def _balance(code: str, amount: Decimal, currency: str, on: date) -> str:
    return (
        f"  <Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
        f'<Amt Ccy="{currency}">{abs(amount):.2f}</Amt>'
        f"<CdtDbtInd>{'CRDT' if amount >= 0 else 'DBIT'}</CdtDbtInd><Dt><Dt>{on}</Dt></Dt></Bal>\n"
    )
