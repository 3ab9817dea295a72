"""Sales at shipment, set-based: `sales.py`'s rule as two statements over a chunk of shipments,
for the volume of a busy month (200,000 shipments would take minutes one posting at a time).

`SHIPS_SQL` picks the shipments this path takes, into `journals_sale_ships`: those whose order
has at most one tender, whose shipped goods all have an item with a unit cost of their own (no
bundle, no missing cost: those make notes), in a known currency, on a day whose period is open.
Every other shipment goes through `sales.py` one posting at a time, as before.

`LEGS_SQL` writes their legs into `journals_sale_legs`, exactly as `sales._posting` makes them:
every share of a line cut cumulatively by units (`units_share`: the rounded share of everything
shipped so far minus that of what shipped before), rounded half away from zero to the
currency's minor unit like `quantize`; tax per jurisdiction; discounts as a debit; gift cards as
a liability; with the order's first shipment its shipping, fees and order-level tax; COGS
against inventory in the cost's currency; and the tender's side, what is owed rounded (one
tender, as `allocate` does it for one part) or as it is (none). Zero legs are dropped, as
`LegsBuilder.add` drops them. tests/journals/test_sales_bulk.py holds the two paths equal.
"""

from __future__ import annotations

from ..models import AmountKind as K

INPUT = "journals_sale_input"
SHIPS = "journals_sale_ships"
LEGS = "journals_sale_legs"

CREATE_SQL = f"""
CREATE TEMPORARY TABLE {INPUT} (shipment_id bigint NOT NULL, event_id bigint NOT NULL)
    ON COMMIT DROP;
CREATE TEMPORARY TABLE {SHIPS} (
    shipment_id bigint PRIMARY KEY, event_id bigint, order_id bigint NOT NULL,
    legal_entity_id bigint NOT NULL, channel_id bigint NOT NULL, currency varchar(3) NOT NULL,
    method text NOT NULL, day date NOT NULL, tenders int NOT NULL,
    g_channel_id bigint, g_method text, g_order_id bigint, g_date date, period text
) ON COMMIT DROP;
CREATE TEMPORARY TABLE {LEGS} (
    shipment_id bigint NOT NULL, kind text NOT NULL, amount numeric NOT NULL,
    currency varchar(3) NOT NULL, leg_method text NOT NULL DEFAULT '',
    jurisdiction text NOT NULL DEFAULT ''
) ON COMMIT DROP
"""

# The tender a shipment's order was paid with: `sales.tender_of`.
_TENDER = (
    "CASE WHEN p.kind IN ('gift_card', 'store_credit') THEN p.kind "
    "ELSE lower(btrim(p.gateway, E' \\t\\n\\r\\f\\v')) END"
)

SHIPS_SQL = f"""
WITH u AS (
    SELECT x.shipment_id, MIN(x.event_id) AS event_id FROM {INPUT} x GROUP BY x.shipment_id
), cur AS (
    SELECT * FROM unnest(%(currencies)s::text[]) AS c(code)
)
INSERT INTO {SHIPS} (shipment_id, event_id, order_id, legal_entity_id, channel_id, currency,
                     method, day, tenders)
SELECT u.shipment_id, u.event_id, o.id, o.legal_entity_id, o.channel_id, o.currency,
       COALESCE(tender.method, ''), (sh.shipped_at AT TIME ZONE %(tz)s)::date,
       COALESCE(tender.n, 0)
FROM u
JOIN orders_shipment sh ON sh.id = u.shipment_id
JOIN orders_order o ON o.id = sh.order_id
JOIN core_legalentity le ON le.id = o.legal_entity_id
LEFT JOIN LATERAL (
    SELECT COUNT(*) AS n, MIN({_TENDER}) AS method
    FROM orders_payment p WHERE p.order_id = o.id AND p.amount > 0
) tender ON true
WHERE COALESCE(tender.n, 0) <= 1
  AND o.currency IN (SELECT code FROM cur)
  AND NOT (o.legal_entity_id::text || ':'
           || to_char((sh.shipped_at AT TIME ZONE %(tz)s)::date, 'YYYY-MM') = ANY(%(shut)s))
  AND NOT EXISTS (
      SELECT FROM orders_shipmentline x
      JOIN orders_orderline ol ON ol.id = x.line_id
      LEFT JOIN inventory_item i ON i.sku = ol.sku
      WHERE x.shipment_id = u.shipment_id AND NOT ol.is_gift_card
        AND (i.unit_cost IS NULL
             OR COALESCE(NULLIF(i.cost_currency, ''), le.currency) NOT IN (SELECT code FROM cur)))
"""  # noqa: S608  (table names only)


def _share(total: str) -> str:
    """`units_share` of `total` for units b+1..b+q of n."""
    return f"(round({total} * (b + q) / n, e) - round({total} * b / n, e))"


LEGS_SQL = f"""
WITH cur AS (
    SELECT * FROM unnest(%(currencies)s::text[], %(exponents)s::int[]) AS c(code, e)
), s AS (
    SELECT s.*, ce.e, o.prices_include_tax AS inclusive, le.currency AS book,
           s.shipment_id = (SELECT MIN(y.shipment_id) FROM orders_shipmentline y
                            JOIN orders_shipment z ON z.id = y.shipment_id
                            WHERE z.order_id = s.order_id) AS first
    FROM {SHIPS} s
    JOIN orders_order o ON o.id = s.order_id
    JOIN core_legalentity le ON le.id = s.legal_entity_id
    JOIN cur ce ON ce.code = s.currency
), sl AS (
    SELECT s.shipment_id, s.currency, s.e, s.inclusive, ol.id AS line_id, ol.quantity AS n,
           x.quantity AS q, ol.unit_price, ol.discount, ol.is_gift_card, i.unit_cost,
           cc.code AS cost_currency, cc.e AS cost_e,
           COALESCE((SELECT SUM(y.quantity) FROM orders_shipmentline y
                     JOIN orders_shipment z ON z.id = y.shipment_id
                     WHERE z.order_id = s.order_id AND y.line_id = x.line_id
                       AND y.shipment_id < s.shipment_id), 0) AS b
    FROM s
    JOIN orders_shipmentline x ON x.shipment_id = s.shipment_id
    JOIN orders_orderline ol ON ol.id = x.line_id
    LEFT JOIN inventory_item i ON i.sku = ol.sku
    LEFT JOIN cur cc ON cc.code = COALESCE(NULLIF(i.cost_currency, ''), s.book)
), line_tax AS (
    SELECT sl.shipment_id, sl.line_id, COALESCE(NULLIF(t.jurisdiction, ''), t.title) AS jur,
           {_share("t.amount")} AS part
    FROM sl JOIN orders_taxline t ON t.line_id = sl.line_id
), line AS (
    SELECT sl.*, {_share("sl.unit_price * n")} AS price,
           {_share("(sl.unit_price * n - sl.discount)")} AS goods, COALESCE(lt.tax, 0) AS tax
    FROM sl LEFT JOIN (
        SELECT shipment_id, line_id, SUM(part) AS tax FROM line_tax GROUP BY shipment_id, line_id
    ) lt ON lt.shipment_id = sl.shipment_id AND lt.line_id = sl.line_id
), money AS (
    SELECT shipment_id, '{K.TAX_PAYABLE}' AS kind, -part AS amount, jur AS jurisdiction
    FROM line_tax
    UNION ALL
    SELECT shipment_id,
           CASE WHEN is_gift_card THEN '{K.GIFT_CARD_LIABILITY}' ELSE '{K.REVENUE}' END,
           -(CASE WHEN inclusive THEN price - tax ELSE price END), ''
    FROM line
    UNION ALL
    SELECT shipment_id, '{K.DISCOUNT}', price - goods, '' FROM line
    UNION ALL
    SELECT s.shipment_id, k.kind, k.amount, ''
    FROM s JOIN orders_shippingline x ON x.order_id = s.order_id
    CROSS JOIN LATERAL (VALUES
        ('{K.DISCOUNT}', x.discount),
        ('{K.SHIPPING_REVENUE}', -(x.amount - CASE WHEN s.inclusive THEN x.tax ELSE 0 END))
    ) AS k(kind, amount)
    WHERE s.first
    UNION ALL
    SELECT s.shipment_id, '{K.REVENUE}', -(f.amount - CASE WHEN s.inclusive THEN f.tax ELSE 0 END),
           ''
    FROM s JOIN orders_orderfee f ON f.order_id = s.order_id
    WHERE s.first
    UNION ALL
    SELECT s.shipment_id, '{K.TAX_PAYABLE}', -round(t.amount, s.e),
           COALESCE(NULLIF(t.jurisdiction, ''), t.title)
    FROM s JOIN orders_taxline t ON t.order_id = s.order_id
    WHERE s.first AND t.target <> 'line'
)
INSERT INTO {LEGS} (shipment_id, kind, amount, currency, leg_method, jurisdiction)
SELECT shipment_id, kind, amount, currency, leg_method, jurisdiction FROM (
    SELECT m.shipment_id, m.kind, m.amount, s.currency, '' AS leg_method, m.jurisdiction
    FROM money m JOIN s ON s.shipment_id = m.shipment_id
    UNION ALL
    SELECT shipment_id, k.kind, k.amount, cost_currency, '', ''
    FROM line CROSS JOIN LATERAL (VALUES
        ('{K.COGS}', round(unit_cost * q, cost_e)),
        ('{K.INVENTORY}', -round(unit_cost * q, cost_e))
    ) AS k(kind, amount)
    WHERE NOT is_gift_card
    UNION ALL
    SELECT s.shipment_id,
           CASE s.method WHEN 'gift_card' THEN '{K.GIFT_CARD_LIABILITY}'
                WHEN 'store_credit' THEN '{K.STORE_CREDIT_LIABILITY}' ELSE '{K.CLEARING}' END,
           CASE WHEN s.tenders = 1 THEN round(-COALESCE(owed.total, 0), s.e)
                ELSE -COALESCE(owed.total, 0) END,
           s.currency, s.method, ''
    FROM s LEFT JOIN (SELECT shipment_id, SUM(amount) AS total FROM money GROUP BY shipment_id)
         owed ON owed.shipment_id = s.shipment_id
) legs
WHERE amount <> 0
"""  # noqa: S608  (table names and the kinds' own values only)

# Shipments whose legs do not balance in some currency: left to `sales.py`, which refuses them
# (`Unbalanced`) as it always has.
UNBALANCED_SQL = f"""
SELECT DISTINCT shipment_id FROM (
    SELECT shipment_id FROM {LEGS} GROUP BY shipment_id, currency HAVING SUM(amount) <> 0
) x
"""  # noqa: S608
