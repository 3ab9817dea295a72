"""The set-based sales path's last step (`sales_bulk`): its legs summed into the lines of the
drafts, and the source links, as `lines.lines_add` does for postings.

Legs of the same entry and mapping (account, dimensions, description: one row of
`journals_sale_map`) and side are summed first, on integer keys; those sums become lines by
(entry, account, side, dimensions, description), added to the entry's line of that key if it
has one (the last, as `lines_add` finds it) or inserted. Then one INSERT … SELECT writes a
source link per shipment and line: the order, with what its legs put on that line.
"""

from __future__ import annotations

from django.db.backends.utils import CursorWrapper

from ..posting.sales_sql import LEGS, SHIPS

# Each leg with its entry and mapping, as the joins find them (written twice below).
_PLACED = f"""
FROM {LEGS} g
JOIN {SHIPS} s ON s.shipment_id = g.shipment_id
JOIN journals_sale_map m ON m.legal_entity_id = s.legal_entity_id
     AND m.channel_id = s.channel_id AND m.leg_method = g.leg_method
     AND m.kind = g.kind AND m.jurisdiction = g.jurisdiction
JOIN journals_sale_entries e ON e.legal_entity_id = s.legal_entity_id
     AND e.g_channel_id = s.g_channel_id AND e.g_method = s.g_method
     AND e.g_order_id = s.g_order_id AND e.g_date = s.g_date AND e.currency = g.currency
"""

KEYS_SQL = f"""
CREATE TEMPORARY TABLE journals_sale_keys ON COMMIT DROP AS
SELECT e.entry_id, m.map_id, g.amount > 0 AS debit, SUM(abs(g.amount)) AS amount,
       NULL::bigint AS line_id
{_PLACED}
GROUP BY e.entry_id, m.map_id, g.amount > 0
"""

LINES_SQL = """
CREATE TEMPORARY TABLE journals_sale_lines ON COMMIT DROP AS
SELECT k.entry_id, m.account_id, k.debit, m.dims, m.description, SUM(k.amount) AS amount,
       (SELECT MAX(l.id) FROM journals_journalline l
        WHERE l.entry_id = k.entry_id AND l.account_id = m.account_id
          AND (l.debit > 0) = k.debit AND l.dimensions = m.dims
          AND l.description = m.description AND l.fx_rate IS NULL
          AND l.fx_rate_source = '') AS line_id
FROM journals_sale_keys k JOIN journals_sale_map m ON m.map_id = k.map_id
GROUP BY k.entry_id, m.account_id, k.debit, m.dims, m.description
"""

ADD_SQL = """
UPDATE journals_journalline l
SET debit = l.debit + CASE WHEN k.debit THEN k.amount ELSE 0 END,
    credit = l.credit + CASE WHEN k.debit THEN 0 ELSE k.amount END
FROM journals_sale_lines k WHERE l.id = k.line_id
"""

INSERT_SQL = """
WITH made AS (
    INSERT INTO journals_journalline (entry_id, account_id, debit, credit, dimensions,
                                      description, fx_rate, fx_rate_source)
    SELECT entry_id, account_id, CASE WHEN debit THEN amount ELSE 0 END,
           CASE WHEN debit THEN 0 ELSE amount END, dims, description, NULL, ''
    FROM journals_sale_lines WHERE line_id IS NULL
    ORDER BY entry_id, account_id, debit, description
    RETURNING id, entry_id, account_id, debit > 0 AS debit, dimensions, description
)
UPDATE journals_sale_lines k SET line_id = made.id FROM made
WHERE k.line_id IS NULL AND k.entry_id = made.entry_id
  AND k.account_id = made.account_id AND k.debit = made.debit
  AND k.dims = made.dimensions AND k.description = made.description
"""

LINE_OF_SQL = """
UPDATE journals_sale_keys k SET line_id = x.line_id
FROM journals_sale_map m, journals_sale_lines x
WHERE m.map_id = k.map_id AND x.entry_id = k.entry_id AND x.account_id = m.account_id
  AND x.debit = k.debit AND x.dims = m.dims AND x.description = m.description
"""

SOURCES_SQL = f"""
INSERT INTO journals_journallinesource (line_id, source_type, source_id, amount)
SELECT k.line_id, 'order', s.order_id, SUM(abs(g.amount))
{_PLACED}
JOIN journals_sale_keys k ON k.entry_id = e.entry_id AND k.map_id = m.map_id
     AND k.debit = (g.amount > 0)
GROUP BY s.shipment_id, k.line_id, s.order_id
"""

TABLES = ("journals_sale_keys", "journals_sale_lines")


def lines_write(cursor: CursorWrapper) -> None:
    # The planner cannot know how few entries and mappings the legs fall into (it guesses one
    # row out of the multi-column joins) and loops over the legs for each: at volume only
    # hashing makes sense. Put back for whatever else the transaction holds.
    cursor.execute("SET LOCAL enable_nestloop = off")
    for statement in (KEYS_SQL, LINES_SQL, ADD_SQL, INSERT_SQL, LINE_OF_SQL, SOURCES_SQL):
        cursor.execute(statement)
    cursor.execute("SET LOCAL enable_nestloop TO DEFAULT")
