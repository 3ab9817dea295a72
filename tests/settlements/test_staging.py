"""Staging writes a file's texts exactly as they came, whatever characters they hold."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection

from settlements.parsers.base import LineKind, ParsedLine
from settlements.staging import STAGED, staging_create, staging_drop, staging_write

AWKWARD = 'back\\slash\ttab\nnewline\rreturn "quoted" \\N \\t'
NULL_MARK = "\\N"  # COPY's NULL, as a text of its own


def staged(first_id: int, lines: list[ParsedLine], columns: str) -> list[tuple[object, ...]]:
    """Stage every line, numbered from `first_id`, and read `columns` of them back in order."""
    staging_create()
    try:
        assert staging_write(first_id, lines) == len(lines)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {columns} FROM {STAGED} ORDER BY id")
            return cursor.fetchall()
    finally:
        staging_drop()


@pytest.mark.django_db
def test_texts_with_tabs_backslashes_and_line_breaks_are_staged_as_they_are() -> None:
    when = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
    lines = [
        ParsedLine(
            row=2,
            batch_key=f"B{AWKWARD}",
            line_key=f"K{AWKWARD}",
            kind=LineKind.CHARGE,
            currency="EUR",
            gross=Decimal("-12.345"),
            fee=Decimal("0.30"),
            net=Decimal("-12.645"),
            posted_at=when,
            order_ref=f"O{AWKWARD}",
            payment_ref="",
            related_ref="\\",
            payment_method="card",
            description=AWKWARD,
            raw=f"a\tb\t{AWKWARD}",
        ),
        ParsedLine(
            3, "B", "K2", LineKind.FEE, "EUR", Decimal(0), Decimal("-1"), Decimal("-1"), None
        ),
        ParsedLine(
            4,
            "B",
            "K3",
            LineKind.FEE,
            "EUR",
            Decimal(0),
            Decimal(0),
            Decimal(0),
            None,
            description=NULL_MARK,
            raw=NULL_MARK,
        ),
    ]
    first, second, third = staged(
        7,
        lines,
        "id, row, batch_key, line_key, kind, gross, fee, net, posted_at,"
        " order_ref, payment_ref, related_ref, description, raw",
    )
    assert first == (
        7,
        2,
        f"B{AWKWARD}",
        f"K{AWKWARD}",
        "charge",
        Decimal("-12.345"),
        Decimal("0.30"),
        Decimal("-12.645"),
        when,
        f"O{AWKWARD}",
        "",
        "\\",
        AWKWARD,
        f"a\tb\t{AWKWARD}",
    )
    assert second[:9] == (8, 3, "B", "K2", "fee", Decimal(0), Decimal("-1"), Decimal("-1"), None)
    assert second[9:] == ("", "", "", "", "")
    assert third[12:] == (NULL_MARK, NULL_MARK)


@pytest.mark.django_db
def test_texts_longer_than_their_columns_are_cut_whether_or_not_they_need_quoting() -> None:
    def line(row: int, text: str, method: str) -> ParsedLine:
        return ParsedLine(
            row,
            "B",
            f"K{row}",
            LineKind.CHARGE,
            "EUR",
            Decimal("1"),
            Decimal(0),
            Decimal("1"),
            None,
            order_ref=text * 130,
            description=text * 510,
            payment_method=method,
        )

    lines = [
        line(2, "o", "m" * 41),  # plain texts, only the payment method too long
        line(3, "o", "card"),  # plain texts, long as a whole
        line(4, '"', "m" * 41),  # quoted texts
    ]
    assert staged(1, lines, "order_ref, payment_method, description") == [
        ("o" * 120, "m" * 40, "o" * 500),
        ("o" * 120, "card", "o" * 500),
        ('"' * 120, "m" * 40, '"' * 500),
    ]
