"""`bench/journals.py`'s baseline statement and its checks of what the journal run wrote.

The baseline is what the journals summarize, summed by one statement and nothing written:
shipped order lines per day (UTC, the books' time zone), channel and currency (goods, discounts,
tax, cost at the items' unit cost), and settlement lines per deposit date, kind and currency
(positive and negative gross and fee). Its rows are also the reference the posted lines are
checked against, account by account and day by day, with the kinds of amount mapped to
accounts by the starting chart (journals/chart.py) and settlement kinds by the settlement
posting rule's own table. The counts expected (entries, source links) are those of the bench's
data: one-line orders with one tender and no shipping, one Amazon batch.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg

BASELINE_SQL = """
SELECT 'sales' AS source, (s.shipped_at AT TIME ZONE 'UTC')::date AS day, c.code AS grp,
       o.currency,
       SUM(ol.unit_price * sl.quantity) AS a,
       SUM(ol.discount * sl.quantity / ol.quantity) AS b,
       SUM(COALESCE(t.tax, 0) * sl.quantity / ol.quantity) AS c,
       SUM(COALESCE(i.unit_cost, 0) * sl.quantity) AS d,
       COUNT(*) AS n
FROM orders_shipmentline sl
JOIN orders_shipment s ON s.id = sl.shipment_id
JOIN orders_orderline ol ON ol.id = sl.line_id
JOIN orders_order o ON o.id = ol.order_id
JOIN core_channel c ON c.id = o.channel_id
LEFT JOIN inventory_item i ON i.sku = ol.sku
LEFT JOIN (SELECT line_id, SUM(amount) AS tax FROM orders_taxline
           WHERE line_id IS NOT NULL GROUP BY line_id) t ON t.line_id = ol.id
GROUP BY 1, 2, 3, 4
UNION ALL
SELECT 'settlement', b.deposit_date, l.kind, l.currency,
       COALESCE(SUM(l.gross) FILTER (WHERE l.gross > 0), 0),
       COALESCE(SUM(l.gross) FILTER (WHERE l.gross < 0), 0),
       COALESCE(SUM(l.fee) FILTER (WHERE l.fee > 0), 0),
       COALESCE(SUM(l.fee) FILTER (WHERE l.fee < 0), 0),
       COUNT(*) FILTER (WHERE l.gross <> 0) + COUNT(*) FILTER (WHERE l.fee <> 0)
FROM settlements_settlementline l
JOIN settlements_settlementbatch b ON b.id = l.batch_id
WHERE l.kind <> 'payout'
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4
"""

COUNTS_SQL = """
SELECT (SELECT COUNT(*) FROM journals_journalentry),
       (SELECT COUNT(*) FROM journals_journalline),
       (SELECT COUNT(*) FROM journals_journallinesource),
       (SELECT COUNT(*) FROM journals_postedsource),
       (SELECT COUNT(*) FROM orders_shipment),
       (SELECT COUNT(*) FROM settlements_settlementbatch WHERE NOT is_statement)
"""

# Per shipment, the journal lines its order feeds: goods, discount, tax per jurisdiction, COGS
# and inventory, one clearing line per tender.
SALES_SOURCES_SQL = """
SELECT COALESCE(SUM(
    (x.price <> 0)::int + (x.discount <> 0)::int + x.taxes + 2 * (x.cost <> 0)::int + x.tenders
), 0)
FROM (
    SELECT s.id,
           SUM(ol.unit_price * sl.quantity) AS price,
           SUM(ol.discount * sl.quantity / ol.quantity) AS discount,
           SUM(COALESCE(i.unit_cost, 0) * sl.quantity) AS cost,
           (SELECT COUNT(DISTINCT COALESCE(NULLIF(t.jurisdiction, ''), t.title))
              FROM orders_taxline t WHERE t.order_id = s.order_id AND t.amount <> 0) AS taxes,
           (SELECT COUNT(*) FROM orders_payment p
              WHERE p.order_id = s.order_id AND p.amount > 0) AS tenders
    FROM orders_shipment s
    JOIN orders_shipmentline sl ON sl.shipment_id = s.id
    JOIN orders_orderline ol ON ol.id = sl.line_id
    LEFT JOIN inventory_item i ON i.sku = ol.sku
    GROUP BY s.id
) x
"""

POSTED_SQL = """
SELECT e.posting_date, a.code, SUM(l.debit), SUM(l.credit)
FROM journals_journalline l
JOIN journals_journalentry e ON e.id = l.entry_id
JOIN journals_account a ON a.id = l.account_id
GROUP BY 1, 2
"""

UNBALANCED_SQL = """
SELECT entry_id, SUM(debit), SUM(credit) FROM journals_journalline
GROUP BY entry_id HAVING SUM(debit) <> SUM(credit)
"""

SOURCES_OFF_SQL = """
SELECT COUNT(*) FROM (
    SELECT l.id, l.debit + l.credit AS amount, COALESCE(SUM(s.amount), 0) AS sources
    FROM journals_journalline l LEFT JOIN journals_journallinesource s ON s.line_id = l.id
    GROUP BY l.id
) x WHERE x.amount <> x.sources
"""

BATCHES_SQL = """
SELECT deposit_date, COALESCE(payout_amount, net), variance FROM settlements_settlementbatch
WHERE NOT is_statement
"""


@dataclass(slots=True)
class Expected:
    entries: int
    sources: int
    posted_sources: int
    entries_found: int
    lines_found: int
    sources_found: int
    posted_sources_found: int


def expected_read(conn: psycopg.Connection[Any], groups: list[tuple[Any, ...]]) -> Expected:
    entries, lines, sources, posted, shipments, batches = (
        conn.execute(COUNTS_SQL).fetchone() or (0,) * 6
    )
    sales_sources = (conn.execute(SALES_SOURCES_SQL).fetchone() or (0,))[0]
    batch_rows = conn.execute(BATCHES_SQL).fetchall()
    settlement_sources = sum(int(g[8]) for g in groups if g[0] == "settlement" and _posted(g[2]))
    settlement_sources += sum(bool(payout) + bool(variance) for _, payout, variance in batch_rows)
    sales_groups = sum(1 for g in groups if g[0] == "sales")
    return Expected(
        entries=sales_groups + batches,
        sources=int(sales_sources) + settlement_sources,
        posted_sources=shipments + batches,
        entries_found=entries,
        lines_found=lines,
        sources_found=sources,
        posted_sources_found=posted,
    )


def _posted(kind: str) -> bool:
    from journals.posting.settlement import TARGET

    return kind in TARGET


def _accounts() -> dict[str, str]:
    from journals.chart import CHART

    return {str(kind): code for code, _, _, kinds in CHART for kind in kinds}


def expected_sums(
    groups: list[tuple[Any, ...]], batches: list[tuple[Any, ...]]
) -> dict[tuple[Any, str], list[Decimal]]:
    """(posting date, account code) → [debit, credit] the baseline's rows say."""
    from journals.models import AmountKind as K
    from journals.posting.settlement import TARGET, fee_target

    account = _accounts()
    out: dict[tuple[Any, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])

    def add(day: Any, kind: str, debit: Decimal = Decimal(0), credit: Decimal = Decimal(0)) -> None:
        sums = out[(day, account[str(kind)])]
        sums[0] += debit
        sums[1] += credit

    for source, day, grp, _, a, b, c, d, _ in groups:
        if source == "sales":
            add(day, K.REVENUE, credit=a)
            add(day, K.DISCOUNT, debit=b)
            add(day, K.TAX_PAYABLE, credit=c)
            add(day, K.COGS, debit=d)
            add(day, K.INVENTORY, credit=d)
            add(day, K.CLEARING, debit=a - b + c)
        elif grp in TARGET:
            add(day, TARGET[grp], credit=a, debit=-b)
            add(day, fee_target(grp), credit=c, debit=-d)
    for day, payout, variance in batches:
        add(day, K.CASH_IN_TRANSIT, debit=payout)
        add(day, K.CLEARING, credit=variance)
    return out


def problems_find(
    conn: psycopg.Connection[Any],
    groups: list[tuple[Any, ...]],
    expected: Expected,
    *,
    again_entries: int,
) -> list[str]:
    problems = []
    off = conn.execute(UNBALANCED_SQL).fetchall()
    if off:
        problems.append(f"{len(off)} entries do not balance, e.g. {off[0]}")
    if expected.entries_found != expected.entries:
        problems.append(f"{expected.entries_found} entries, expected {expected.entries}")
    if expected.posted_sources_found != expected.posted_sources:
        problems.append(
            f"{expected.posted_sources_found} posted sources, expected {expected.posted_sources}"
        )
    if expected.sources_found != expected.sources:
        problems.append(f"{expected.sources_found} source links, expected {expected.sources}")
    not_adding_up = (conn.execute(SOURCES_OFF_SQL).fetchone() or (0,))[0]
    if not_adding_up:
        problems.append(f"{not_adding_up} lines whose sources do not add up to them")
    want = {
        k: v
        for k, v in expected_sums(groups, conn.execute(BATCHES_SQL).fetchall()).items()
        if any(v)
    }
    got = {(d, a): [dr, cr] for d, a, dr, cr in conn.execute(POSTED_SQL).fetchall()}
    for key in sorted(set(want) | set(got), key=str):
        if want.get(key) != got.get(key):
            problems.append(f"posted {key}: {got.get(key)}, the baseline says {want.get(key)}")
    counts = conn.execute(COUNTS_SQL).fetchone() or ()
    before = (
        expected.entries_found,
        expected.lines_found,
        expected.sources_found,
        expected.posted_sources_found,
    )
    if again_entries or tuple(counts[:4]) != before:
        problems.append(f"the second run touched {again_entries} entries: {before} -> {counts[:4]}")
    return problems
