"""The Beancount export passes `bean-check`, and the balances Beancount computes from it are
the journals' own sums per account."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from beancount import loader
from beancount.core import data, realization

from journals.erp.base import ErpJournal, ErpLine
from journals.exports.beancount import write_beancount

BEAN_CHECK = Path(sys.executable).parent / "bean-check"

ACCOUNTS = {
    "1100": ("asset", "Clearing:Shopify"),
    "1200": ("Assets", "Bank"),
    "2100": ("liability", "Sales tax payable"),
    "2300": ("liability", "Store credit & gift cards"),
    "4000": ("revenue", "Sales:Online shop"),
    "6100": ("expense", "Fees: payment providers"),
    "6200": ("expense", "Café & meals"),
}


def line(account: str, debit: str = "0", credit: str = "0", text: str = "", **dims: str) -> ErpLine:
    return ErpLine(account, Decimal(debit), Decimal(credit), text, dims)


def entry(
    reference: str,
    day: int,
    currency: str,
    legal_entity: str,
    *lines: ErpLine,
    reversal_of: str = "",
    description: str = "Daily summary",
) -> ErpJournal:
    return ErpJournal(
        f"key-{reference}",
        legal_entity,
        date(2026, 11, day),
        currency,
        description,
        reference,
        tuple(lines),
        reversal_of,
    )


# Worked by hand. US01 in USD: sales of 1,250.00 plus 100.00 tax; Shopify keeps 36.25.
# DE01 in EUR: sales of 400.00, paid out to the bank less 12.00 fees.
# US01 again: a refund of 80.00 as store credit, and a reversal of a mistaken 10.50 meal.
JOURNALS = [
    entry(
        "JE-1",
        25,
        "USD",
        "US01",
        line("1100", debit="1313.75", text='The "clearing"', channel="shopify"),
        line("6100", debit="36.25"),
        line("4000", credit="1250.00", cost_centre="CC-410"),
        line("2100", credit="100.00", jurisdiction="US-NY"),
    ),
    entry(
        "JE-2",
        26,
        "EUR",
        "DE01",
        line("1200", debit="388.00"),
        line("6100", debit="12.00"),
        line("4000", credit="400.00"),
    ),
    entry(
        "JE-3",
        27,
        "USD",
        "US01",
        line("4000", debit="80.00"),
        line("2300", credit="80.00"),
        description="Refund as store credit \\ order #1001",
    ),
    entry("JE-4", 28, "USD", "US01", line("6200", debit="10.50"), line("1200", credit="10.50")),
    entry(
        "JE-5",
        29,
        "USD",
        "US01",
        line("1200", debit="10.50"),
        line("6200", credit="10.50"),
        reversal_of="ERP-0042",
    ),
]

# Beancount's names for them, written out by hand, with the balances the journals add up to.
EXPECTED = {
    ("Assets:US01:Clearing:Shopify", "USD"): Decimal("1313.75"),
    ("Expenses:US01:Fees:Payment-providers", "USD"): Decimal("36.25"),
    ("Income:US01:Sales:Online-shop", "USD"): Decimal("-1170.00"),  # -1,250.00 + 80.00
    ("Liabilities:US01:Sales-tax-payable", "USD"): Decimal("-100.00"),
    ("Liabilities:US01:Store-credit-gift-cards", "USD"): Decimal("-80.00"),
    ("Expenses:US01:Cafe-meals", "USD"): Decimal("0.00"),  # 10.50 and its reversal
    ("Assets:US01:Bank", "USD"): Decimal("0.00"),
    ("Assets:DE01:Bank", "EUR"): Decimal("388.00"),
    ("Expenses:DE01:Fees:Payment-providers", "EUR"): Decimal("12.00"),
    ("Income:DE01:Sales:Online-shop", "EUR"): Decimal("-400.00"),
}


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "journals.beancount"
    with path.open("w", encoding="utf-8") as stream:
        assert write_beancount(JOURNALS, ACCOUNTS, stream) == 5
    return path


def bean_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BEAN_CHECK), str(path)], capture_output=True, text=True, timeout=60)


def test_bean_check_accepts_the_export(ledger: Path) -> None:
    checked = bean_check(ledger)

    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", "")


def test_bean_check_would_catch_an_unbalanced_entry(ledger: Path) -> None:
    text = ledger.read_text()
    assert text.count("   36.25 USD") == 1
    ledger.write_text(text.replace("   36.25 USD", "   36.00 USD"))

    checked = bean_check(ledger)

    assert checked.returncode == 1
    assert "Transaction does not balance: (-0.25 USD)" in checked.stderr


# Beancount's name for each ERP account, by hand, with the legal entity to fill in.
NAMES = {
    "1100": "Assets:{}:Clearing:Shopify",
    "1200": "Assets:{}:Bank",
    "2100": "Liabilities:{}:Sales-tax-payable",
    "2300": "Liabilities:{}:Store-credit-gift-cards",
    "4000": "Income:{}:Sales:Online-shop",
    "6100": "Expenses:{}:Fees:Payment-providers",
    "6200": "Expenses:{}:Cafe-meals",
}


def test_beancounts_balances_are_the_journals_sums(ledger: Path) -> None:
    entries, errors, _ = loader.load_file(str(ledger))
    assert errors == []
    balances = {}
    for real in realization.iter_children(realization.realize(entries)):
        for position in real.balance:
            balances[(real.account, position.units.currency)] = position.units.number

    sums: dict[tuple[str, str], Decimal] = {}
    for journal in JOURNALS:
        for item in journal.lines:
            key = (NAMES[item.account].format(journal.legal_entity), journal.currency)
            sums[key] = sums.get(key, Decimal(0)) + item.debit - item.credit

    assert sums == EXPECTED
    assert balances == {key: value for key, value in sums.items() if value}
    opened = {e.account for e in entries if isinstance(e, data.Open)}
    assert opened == {name for name, _ in EXPECTED}


def test_accounts_open_before_their_first_use_with_their_currencies(ledger: Path) -> None:
    entries, _, _ = loader.load_file(str(ledger))
    opens = {e.account: (e.date, e.currencies) for e in entries if isinstance(e, data.Open)}

    assert opens["Assets:US01:Clearing:Shopify"] == (date(2026, 11, 24), ["USD"])
    assert opens["Assets:US01:Bank"] == (date(2026, 11, 27), ["USD"])
    assert opens["Assets:DE01:Bank"] == (date(2026, 11, 25), ["EUR"])
    assert opens["Liabilities:US01:Store-credit-gift-cards"] == (date(2026, 11, 26), ["USD"])


def test_each_transaction_carries_our_reference(ledger: Path) -> None:
    entries, _, _ = loader.load_file(str(ledger))
    transactions = [e for e in entries if isinstance(e, data.Transaction)]

    assert [t.meta["reference"] for t in transactions] == ["JE-1", "JE-2", "JE-3", "JE-4", "JE-5"]
    assert transactions[4].meta["reversal-of"] == "ERP-0042"
    assert transactions[2].narration == "Refund as store credit \\ order #1001"
    first = transactions[0].postings[0]
    assert (first.meta["memo"], first.meta["channel"]) == ('The "clearing"', "shopify")


def test_an_account_without_a_type_is_refused_before_writing() -> None:
    stream = io.StringIO()
    with pytest.raises(ValueError, match="no account type and name for ERP account '6200'"):
        write_beancount(JOURNALS, {k: v for k, v in ACCOUNTS.items() if k != "6200"}, stream)
    assert stream.getvalue() == ""


def test_two_accounts_that_would_share_a_name_are_refused() -> None:
    clash = {**ACCOUNTS, "1200": ("asset", "Clearing: Shopify")}
    with pytest.raises(ValueError, match="would both be Assets:US01:Clearing:Shopify"):
        write_beancount(JOURNALS, clash, io.StringIO())
