"""The linking rules: each one statement over the whole batch, in the provider's configured
order, writing (line, order, rule) into the run's temporary table for lines no earlier rule
linked. Lines a person matched or unmatched (`manual`) are left alone.

- `payment_ref`: the line's payment reference (charge id, PSP reference, payment intent,
  PayPal transaction), or for a refund or chargeback its original payment's, is an order's
  payment reference; one line to several payments of one order (split tenders) links the order.
- `order_ref`: the marketplace or merchant order reference is an order's channel id or the
  order number people see (with or without its `#`); many lines of one order (Amazon's
  principal, tax, shipping, commission and fee rows) all link to it.
- `refund`, `chargeback`: refund and chargeback lines by the reference of the payment they
  reverse (`related_ref`) when their own reference is the refund's.
- `amount_date`: what is left, an unreferenced charge whose amount is within tolerance of one
  open expectation within the date window, and that expectation of no other line. A line that
  names an order or a payment we do not know is `no_order`, not a guess: its reference says
  which order it is, and pairing every such line with every open expectation of a similar
  amount is what made this rule take minutes on a marketplace file (50 lines of unknown
  orders x 9,000 expectations of one price probed the links table 5,000 times each).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import connection

from orders.models import Order, Payment

from ..models import ExpectedSettlement, ProviderSettings, SettlementBatch, SettlementLine
from ..parsers.base import LineKind
from ..staging import analyze

LINKS = "settlements_links"
LINE = SettlementLine._meta.db_table
ORDER = Order._meta.db_table
PAYMENT = Payment._meta.db_table
EXPECTED = ExpectedSettlement._meta.db_table
# Lines that concern no order: the provider's transfer, and fees, reserves and the like that
# carry no reference (accounted for by the payout identity).
BATCH_KINDS = (
    LineKind.PAYOUT,
    LineKind.FEE,
    LineKind.COMMISSION,
    LineKind.ADVERTISING,
    LineKind.RESERVE_HOLD,
    LineKind.RESERVE_RELEASE,
    LineKind.ADJUSTMENT,
    LineKind.OTHER,
)


def links_create() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {LINKS}")
        # No index: each rule's anti-join and amount_date's "is this order linked" plan as hash
        # joins over the table (analyzed after every rule), and a million links written into a
        # B-tree in hash order took 8 of the order_ref rule's 11 s. A line is linked once by
        # construction: every rule skips the lines an earlier one linked.
        cursor.execute(
            f"CREATE TEMPORARY TABLE {LINKS} "
            "(line_id bigint NOT NULL, order_id bigint NOT NULL, rule varchar(20) NOT NULL)"
        )


def links_drop() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {LINKS}")


def _link(
    rule: str,
    join: str,
    where: str,
    params: list[Any],
    batch: SettlementBatch,
    where_params: list[Any] | None = None,
    source: str = LINE,
) -> int:
    """Link the batch's open lines in `source` that `join` (over `l`, giving `order_id`)
    finds."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {LINKS} (line_id, order_id, rule)
            SELECT l.id, MIN(found.order_id), %s
            FROM {source} l {join}
            WHERE l.batch_id = %s AND NOT l.manual
              AND NOT EXISTS (SELECT 1 FROM {LINKS} k WHERE k.line_id = l.id) AND {where}
            GROUP BY l.id
            """,
            [rule, *params, batch.pk, *(where_params or [])],
        )
        return int(cursor.rowcount)


def _channel(batch: SettlementBatch, alias: str) -> tuple[str, list[Any]]:
    if batch.channel_id is None:
        return "", []
    return f" AND {alias}.channel_id = %s", [batch.channel_id]


def rule_payment_ref(batch: SettlementBatch, settings: ProviderSettings, source: str) -> int:
    join = f"JOIN {PAYMENT} found ON found.reference = l.payment_ref"
    return _link("payment_ref", join, "l.payment_ref <> ''", [], batch, source=source)


def rule_order_ref(batch: SettlementBatch, settings: ProviderSettings, source: str) -> int:
    """One pass over the lines: the orders' channel ids and numbers (with and without `#`),
    as one derived table to hash-join against."""
    scope, params = _channel(batch, "o")
    refs = " UNION ALL ".join(
        f"SELECT o.id AS order_id, {value} AS ref FROM {ORDER} o WHERE o.{column} <> ''{scope}"
        for column, value in (
            ("external_id", "o.external_id"),
            ("order_number", "o.order_number"),
            ("order_number", "'#' || o.order_number"),
            ("order_number", "ltrim(o.order_number, '#')"),
        )
    )
    join = f"JOIN ({refs}) found ON found.ref = l.order_ref"
    return _link("order_ref", join, "l.order_ref <> ''", params * 4, batch, source=source)


def _reversal_rule(kinds: tuple[LineKind, ...], rule: str) -> Callable[..., int]:
    def link(batch: SettlementBatch, settings: ProviderSettings, source: str) -> int:
        scope, params = _channel(batch, "o")
        join = (
            f"JOIN (SELECT p.order_id, p.reference FROM {PAYMENT} p JOIN {ORDER} o "
            f"ON o.id = p.order_id WHERE p.reference <> ''{scope}) found "
            "ON found.reference = l.related_ref"
        )
        marks = ", ".join(["%s"] * len(kinds))
        return _link(rule, join, f"l.kind IN ({marks})", params, batch, list(kinds), source)

    return link


rule_refund = _reversal_rule((LineKind.REFUND,), "refund")
rule_chargeback = _reversal_rule((LineKind.CHARGEBACK, LineKind.CHARGEBACK_REVERSAL), "chargeback")


def rule_amount_date(batch: SettlementBatch, settings: ProviderSettings, source: str) -> int:
    """Unique both ways: a line with one candidate, a candidate with one line."""
    scope, params = _channel(batch, "o")
    window = timedelta(days=settings.date_window_days)
    # The tolerance is cast: SQLite (the demo) binds a Decimal as text, which compares above
    # every number, so an uncast upper bound let any larger expectation through.
    candidates = f"""
        SELECT l.id AS line_id, e.order_id, e.id AS expected_id
        FROM {source} l
        JOIN {EXPECTED} e ON e.kind = 'charge' AND e.status = 'open' AND e.currency = l.currency
             AND e.gross - l.gross BETWEEN -CAST(%s AS NUMERIC) AND CAST(%s AS NUMERIC)
             AND e.expected_on BETWEEN %s AND %s
        JOIN {ORDER} o ON o.id = e.order_id{scope}
        WHERE l.batch_id = %s AND NOT l.manual AND l.kind = 'charge'
          AND l.order_ref = '' AND l.payment_ref = ''
          AND NOT EXISTS (SELECT 1 FROM {LINKS} k WHERE k.line_id = l.id)
          AND NOT EXISTS (SELECT 1 FROM {LINKS} k WHERE k.order_id = e.order_id)
    """
    start = (batch.period_start or batch.deposit_date or batch.created_at.date()) - window
    end = (batch.period_end or batch.deposit_date or batch.created_at.date()) + window
    tolerance = settings.amount_tolerance
    values: list[Any] = [tolerance, tolerance, start, end, *params, batch.pk]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {LINKS} (line_id, order_id, rule)
            SELECT c.line_id, MIN(c.order_id), 'amount_date' FROM ({candidates}) c
            WHERE c.expected_id IN (
                SELECT c2.expected_id FROM ({candidates}) c2
                GROUP BY c2.expected_id HAVING COUNT(*) = 1)
            GROUP BY c.line_id HAVING COUNT(*) = 1
            """,
            values * 2,
        )
        return int(cursor.rowcount)


RULE_FUNCTIONS: dict[str, Callable[[SettlementBatch, ProviderSettings, str], int]] = {
    "payment_ref": rule_payment_ref,
    "order_ref": rule_order_ref,
    "refund": rule_refund,
    "chargeback": rule_chargeback,
    "amount_date": rule_amount_date,
}


def links_find(
    batch: SettlementBatch, settings: ProviderSettings, source: str = LINE
) -> dict[str, int]:
    """Run the rules in the configured order over the batch's lines in `source` (the lines
    table, or a new batch's lines still staged); how many lines each linked."""
    links_create()
    order = [r for r in (settings.rule_order or []) if r in RULE_FUNCTIONS]
    order += [r for r in RULE_FUNCTIONS if r not in order]
    counts = {}
    for rule in order:
        counts[rule] = RULE_FUNCTIONS[rule](batch, settings, source)
        analyze(LINKS)  # the next rule's anti-join plans on what this one linked
    return counts
