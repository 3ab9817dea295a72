"""camt.053 statements: a daily .001.02 file and a weekly .001.08 file that overlaps it, rebuilt
from the OCA test file's shape (formats.md §8a). Figures are worked out by hand in comments."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from settlements.parsers import camt053
from settlements.parsers.base import LineKind

from .helpers import CountingStream, fixture, parse, refused, split

D = Decimal
DAILY = fixture("camt053_v02_daily.xml")
WEEKLY = fixture("camt053_v08_weekly.xml")
IBAN = "NL91ABNA0417164300"


def test_daily_statement_yields_its_booked_entries_then_the_statement() -> None:
    records = parse(camt053.parse, DAILY)
    batches, lines = split(records)
    assert records[-1] is batches[0]  # the batch comes when its <Stmt> closes
    (batch,) = batches
    assert batch.key == "RS-20260302-1"
    assert (batch.account, batch.currency) == (IBAN, "EUR")
    assert (batch.period_start, batch.period_end) == (date(2026, 3, 2), date(2026, 3, 2))
    # 10000.00 + 1523.40 + 8702.15 - 250.00 - 64.90 = 19910.65 (the pending 99.00 is not booked)
    assert (batch.opening_balance, batch.closing_balance) == (D("10000.00"), D("19910.65"))

    assert [line.row for line in lines] == [24, 39, 52, 64]  # each <Ntry>'s opening line
    assert [line.net for line in lines] == [D("1523.40"), D("8702.15"), D("-250.00"), D("-64.90")]
    assert [line.kind for line in lines] == [
        LineKind.DEPOSIT,
        LineKind.DEPOSIT,
        LineKind.WITHDRAWAL,
        LineKind.WITHDRAWAL,
    ]
    for line in lines:
        assert line.gross == line.net and line.fee == 0
        assert (line.currency, line.batch_key, line.order_ref) == ("EUR", "RS-20260302-1", "")
        assert line.posted_at == datetime(2026, 3, 2, tzinfo=UTC)
        assert line.raw.startswith("<Ntry>") and line.raw.endswith("</Ntry>")
    assert [line.payment_ref for line in lines] == [
        "ACSR-20260302-0001",
        "ACSR-20260302-0002",
        "",
        "ACSR-20260302-0004",
    ]
    # NOTPROVIDED is no reference.
    assert [line.related_ref for line in lines] == ["STRIPE-E2E-7731", "", "RENT-2026-03", ""]
    assert '<Amt Ccy="EUR">8702.15</Amt>' in lines[1].raw
    assert lines[0].extra == {
        "value_date": "2026-03-02",
        "entry_ref": "1",
        "bank_tx_code": "PMNT-RCDT-ESCT",
    }


def test_payout_references_reach_the_description() -> None:
    _, lines = split(parse(camt053.parse, DAILY))
    stripe, amazon, rent, _reversal = lines
    assert stripe.description == "STRIPE PAYOUT po_1QxYz2AbCdEfGhIjKlMn RETAILSYNC"
    # Two <Ustrd> joined, then nothing else: the entry has no AddtlNtryInf.
    assert amazon.description == "AMAZON EU SARL SETTLEMENT 11998877665 MARKETPLACE AMAZON.DE"
    # Remittance text first, then the entry's AddtlNtryInf.
    assert rent.description == "Office rent March SEPA DIRECT DEBIT"


def test_a_reversed_credit_is_booked_as_the_debit_it_is() -> None:
    # DBIT + RvslInd: the bank takes back an earlier credit. CdtDbtInd already says debit, and
    # the balances agree only if it counts as -64.90 (flipping it again would need 20040.45).
    _, lines = split(parse(camt053.parse, DAILY))
    reversal = lines[3]
    assert reversal.net == D("-64.90") and reversal.kind == LineKind.WITHDRAWAL
    assert reversal.extra["reversal"] == "true"
    assert reversal.description == "REVERSAL OF CREDIT 2026-02-27 ORDER 1042"


def test_entries_without_the_banks_reference_get_a_hash_key() -> None:
    _, lines = split(parse(camt053.parse, DAILY))
    assert lines[0].line_key == f"{IBAN}:ACSR-20260302-0001"
    assert lines[2].line_key.startswith("h:") and len(lines[2].line_key) == 42


def test_weekly_v08_statement_with_coded_status_and_prefixed_namespace() -> None:
    batches, lines = split(parse(camt053.parse, WEEKLY))
    (batch,) = batches
    # PRCD stands in for OPBD: 10000.00 + 9910.65 (2 March) + 300.00 - 15.00 - 15.00 = 20180.65
    assert (batch.opening_balance, batch.closing_balance) == (D("10000.00"), D("20180.65"))
    assert (batch.period_start, batch.period_end) == (date(2026, 3, 2), date(2026, 3, 3))
    assert [line.net for line in lines] == [
        D("1523.40"),
        D("8702.15"),
        D("-250.00"),
        D("-64.90"),
        D("300.00"),
        D("-15.00"),
        D("-15.00"),
    ]
    assert [line.row for line in lines] == [20, 35, 48, 60, 77, 89, 97]
    assert lines[0].raw.startswith("<ns2:Ntry>") and lines[0].raw.endswith("</ns2:Ntry>")
    # The bank cut the payout id at the 140th character of the first <Ustrd>: glued back whole.
    assert lines[4].description.endswith("TRANSFER REFERENCE po_1RwQ8sTuVwXyZaBcDe")


def test_overlapping_statements_give_the_same_entry_the_same_key() -> None:
    _, daily = split(parse(camt053.parse, DAILY))
    _, weekly = split(parse(camt053.parse, WEEKLY))
    assert [line.line_key for line in weekly[:4]] == [line.line_key for line in daily]
    # Two identical card fees on one day, neither with a bank reference: two keys.
    fee_1, fee_2 = weekly[5:]
    assert fee_1.line_key != fee_2.line_key
    assert fee_1.description == fee_2.description == "CARD FEE"


def test_statement_that_does_not_add_up_is_refused_naming_both_figures() -> None:
    error = refused(camt053.parse, DAILY.replace(b"19910.65", b"19910.66"))
    assert error.row == 15  # the CLBD <Bal>
    assert "10000.00" in error.reason and "9910.65" in error.reason
    assert "19910.65" in error.reason and "19910.66" in error.reason


def test_control_totals_that_disagree_with_the_entries_are_refused() -> None:
    error = refused(camt053.parse, DAILY.replace(b"<NbOfNtries>5<", b"<NbOfNtries>6<"))
    assert error.row == 19  # <TxsSummry>
    assert "TtlNtries/NbOfNtries says 6, the entries 5" in error.reason
    error = refused(camt053.parse, DAILY.replace(b"<Sum>314.90<", b"<Sum>314.00<"))
    assert (error.row, "TtlDbtNtries/Sum" in error.reason) == (19, True)


def test_truncated_file_is_refused() -> None:
    cut = DAILY.index(b"<Ntry>", DAILY.index(b"ACSR-20260302-0002"))  # before the rent entry
    error = refused(camt053.parse, DAILY[:cut])
    assert error.row == 52 and "truncated or unclosed XML" in error.reason


def test_a_mismatched_tag_and_a_second_document_are_refused_as_malformed() -> None:
    # Both are found by the pull parser as it reads on, not as the piece is fed to it.
    error = refused(camt053.parse, DAILY.replace(b"</AddtlNtryInf>", b"</AddtlInf>", 1))
    assert "not well-formed XML: mismatched tag" in error.reason
    assert DAILY.split(b"\n")[error.row - 1].strip().startswith(b"<AddtlNtryInf>")
    error = refused(camt053.parse, DAILY + DAILY)
    assert "not well-formed XML: junk after document element" in error.reason


def test_bytes_that_are_not_utf8_are_refused_with_their_line() -> None:
    error = refused(camt053.parse, DAILY.replace(b"Office rent", b"B\xfcro rent"))
    assert error.row == 60 and "not UTF-8" in error.reason


def test_another_declared_encoding_is_refused() -> None:
    error = refused(camt053.parse, DAILY.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"'))
    assert error.row == 1 and "ISO-8859-1" in error.reason


def test_entity_expansion_and_external_entities_are_refused() -> None:
    bomb = b'<!DOCTYPE Document [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
    external = b'<!DOCTYPE Document [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
    declaration_end = DAILY.index(b"\n") + 1
    for doctype in (bomb, external):
        data = DAILY[:declaration_end] + doctype + DAILY[declaration_end:]
        error = refused(camt053.parse, data)
        assert error.row == 2 and "DTDs and entities are refused" in error.reason


def test_other_camt_messages_are_refused() -> None:
    notification = DAILY.replace(b"BkToCstmrStmt>", b"BkToCstmrDbtCdtNtfctn>")
    error = refused(camt053.parse, notification)
    assert error.row == 3 and "BkToCstmrDbtCdtNtfctn" in error.reason


def test_malformed_entries_are_refused_with_their_line() -> None:
    error = refused(camt053.parse, DAILY.replace(b">1523.40<", b">1523.401<"))
    assert error.row == 24 and "more decimals than EUR" in error.reason
    error = refused(
        camt053.parse,
        DAILY.replace(
            b"<CdtDbtInd>DBIT</CdtDbtInd>\n    <Sts>", b"<CdtDbtInd>DR</CdtDbtInd>\n    <Sts>"
        ),
    )
    assert error.row == 52 and "neither CRDT nor DBIT" in error.reason
    error = refused(
        camt053.parse, DAILY.replace(b'<Amt Ccy="EUR">250.00', b'<Amt Ccy="USD">250.00')
    )
    assert error.row == 52 and "entry in USD on a EUR statement" in error.reason


def test_the_file_is_read_an_entry_at_a_time() -> None:
    entry = DAILY[
        DAILY.index(b"   <Ntry>", DAILY.index(b"ACSR-20260302-0002")) : DAILY.index(
            b'   <Ntry>\n    <Amt Ccy="EUR">64.90'
        )
    ]
    body = entry * 5000  # 5,000 copies of the rent entry: about 2 MB
    start = DAILY.index(b"   <Ntry>")
    data = DAILY[:start] + body + DAILY[DAILY.index(b"  </Stmt>") :]
    stream = CountingStream(data)
    records = camt053.parse(stream)  # type: ignore[arg-type]
    first = next(records)
    assert first.net == D("-250.00")  # type: ignore[union-attr]
    assert stream.consumed <= 2 * 64 * 1024 < len(data) / 10


def _statement(entries: list[tuple[int, bool]], opening: int, closing: int) -> bytes:
    def amount(cents: int) -> str:
        return f"{abs(cents) // 100}.{abs(cents) % 100:02d}"

    def bal(code: str, cents: int) -> str:
        side = "DBIT" if cents < 0 else "CRDT"
        return (
            f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
            f'<Amt Ccy="EUR">{amount(cents)}</Amt><CdtDbtInd>{side}</CdtDbtInd></Bal>'
        )

    ntries = "".join(
        f'<Ntry><Amt Ccy="EUR">{amount(cents)}</Amt>'
        f"<CdtDbtInd>{'CRDT' if credit else 'DBIT'}</CdtDbtInd>"
        f"<BookgDt><Dt>2026-03-02</Dt></BookgDt></Ntry>\n"
        for cents, credit in entries
    )
    return (
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.04"><BkToCstmrStmt>'
        f"<Stmt><Id>S1</Id><Acct><Id><Othr><Id>123456</Id></Othr></Id></Acct>"
        f"{bal('OPBD', opening)}{bal('CLBD', closing)}\n{ntries}</Stmt></BkToCstmrStmt></Document>"
    ).encode()


@settings(max_examples=60, deadline=None)
@given(
    entries=st.lists(st.tuples(st.integers(0, 10**9), st.booleans()), max_size=20),
    opening=st.integers(-(10**9), 10**9),
)
def test_lines_always_carry_exactly_the_balance_movement(
    entries: list[tuple[int, bool]], opening: int
) -> None:
    movement = sum(cents if credit else -cents for cents, credit in entries)
    batches, lines = split(parse(camt053.parse, _statement(entries, opening, opening + movement)))
    (batch,) = batches
    assert batch.account == "123456"
    assert batch.opening_balance is not None and batch.closing_balance is not None
    assert sum(line.net for line in lines) == batch.closing_balance - batch.opening_balance
    assert [line.net > 0 for line in lines if line.net] == [c for n, c in entries if n]
    # One cent off anywhere: refused.
    error = refused(camt053.parse, _statement(entries, opening, opening + movement + 1))
    assert error.row == 1 and "closing balance" in error.reason
