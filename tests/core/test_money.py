from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retailsync.core.money import (
    CurrencyMismatch,
    Money,
    allocate,
    from_minor,
    parse_amount,
    quantize,
)


def test_allocate_hands_out_the_remainder_so_parts_add_up():
    # 10.00 in thirds: 3.33 × 3 = 9.99, the leftover cent goes to the first part.
    assert allocate(Decimal("10.00"), [Decimal(1)] * 3, "USD") == [
        Decimal("3.34"),
        Decimal("3.33"),
        Decimal("3.33"),
    ]
    # 5.00 over 49.00 and 15.00: 3.828… and 1.171… → 3.83 and 1.17.
    assert allocate(Decimal("5.00"), [Decimal("49.00"), Decimal("15.00")], "USD") == [
        Decimal("3.83"),
        Decimal("1.17"),
    ]
    assert allocate(Decimal("100"), [Decimal(1), Decimal(2)], "JPY") == [Decimal(33), Decimal(67)]


@given(
    total=st.decimals(min_value=-10_000, max_value=10_000, places=2),
    weights=st.lists(st.decimals(min_value=0, max_value=1000, places=2), min_size=1, max_size=12),
)
def test_allocated_parts_always_sum_to_the_total(total, weights):
    parts = allocate(total, weights, "USD")
    assert sum(parts) == total
    assert all(part == quantize(part, "USD") for part in parts)


def test_minor_units_convert_per_currency_exponent():
    assert from_minor(1999, "USD") == Decimal("19.99")
    assert from_minor(1999, "JPY") == Decimal(1999)
    assert from_minor(1999, "KWD") == Decimal("1.999")


def test_floats_and_junk_are_refused_as_amounts():
    with pytest.raises(ValueError, match="floats"):
        parse_amount(19.99)
    with pytest.raises(ValueError):
        parse_amount("NaN")
    assert parse_amount(" 19.99 ") == Decimal("19.99")


def test_money_refuses_to_add_different_currencies():
    with pytest.raises(CurrencyMismatch):
        Money(Decimal(1), "USD") + Money(Decimal(1), "EUR")
    assert str(Money(Decimal("1.005"), "USD") + Money(Decimal("2"), "USD")) == "3.01 USD"


@pytest.mark.parametrize(
    ("value", "currency", "shown"),
    [("-0.004", "USD", "0.00"), ("-0.0001", "JPY", "0"), ("-0.005", "USD", "-0.01")],
)
def test_an_amount_that_rounds_to_zero_is_shown_as_zero_never_minus_zero(value, currency, shown):
    from retailsync.core.templatetags.money import money

    assert money(Decimal(value), currency) == shown
