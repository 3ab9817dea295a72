"""Sales at shipment: what shipped is earned.

Per shipment: channel clearing per tender (split by the order's payments) against revenue at the
units' price, discounts as a debit, tax payable per jurisdiction from the tax captured at order
time, and, with the order's first shipment, shipping (and any order fee) with their tax. COGS
against inventory at the item's unit cost. Every share of a line is cut cumulatively by units
(`units_share`), the way a return's refund is, so that shipments add up to the order and a
return gives back exactly what its units were posted at.

A gift card sold is a liability, not revenue; a gift card or store credit spent relieves that
liability instead of a clearing account.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, Sum

from inventory.models import BundleComponent, Item
from orders.events import OrderShipped
from orders.models import Order, OrderLine, ShipmentLine, TaxLine
from retailsync.core.contracts import Typed
from retailsync.core.money import allocate, quantize

from ..models import AmountKind as K
from ..models import SourceType
from .legs import ZERO, LegsBuilder, Posting, SourceRef, units_share
from .when import local_date

LIABILITY_TENDERS = {"gift_card": K.GIFT_CARD_LIABILITY, "store_credit": K.STORE_CREDIT_LIABILITY}


def tender_of(gateway: str, kind: str) -> str:
    """The payment method a mapping rule and an entry know a payment by."""
    if kind in LIABILITY_TENDERS:
        return kind
    return (gateway or "").strip().lower()


def jurisdiction_of(tax: TaxLine) -> str:
    return tax.jurisdiction or tax.title


@dataclass(frozen=True, slots=True)
class UnitCost:
    amount: Decimal | None  # None: no cost known
    currency: str


def unit_costs(skus: set[str]) -> dict[str, UnitCost]:
    """Each SKU's unit cost: the item's own, else its components' for a bundle."""
    items = {i.sku: i for i in Item.objects.filter(sku__in=skus)}
    parts: dict[int, list[BundleComponent]] = defaultdict(list)
    for c in BundleComponent.objects.filter(bundle__sku__in=skus).select_related("component"):
        parts[c.bundle_id].append(c)
    out: dict[str, UnitCost] = {}
    for sku in skus:
        item = items.get(sku)
        if item is None:
            continue
        if item.unit_cost is not None:
            out[sku] = UnitCost(item.unit_cost, item.cost_currency)
        elif parts.get(item.pk) and all(p.component.unit_cost is not None for p in parts[item.pk]):
            total = sum(
                ((p.component.unit_cost or ZERO) * p.quantity for p in parts[item.pk]), ZERO
            )
            out[sku] = UnitCost(total, parts[item.pk][0].component.cost_currency)
    return out


def _orders(order_ids: set[int]) -> dict[int, Order]:
    orders = Order.objects.filter(pk__in=order_ids).select_related("channel", "legal_entity")
    orders = orders.prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("pk")),
        Prefetch("tax_lines", queryset=TaxLine.objects.order_by("pk")),
        "shipping_lines",
        "fee_lines",
        "payments",
    )
    return {o.pk: o for o in orders}


def _shipped_before(shipment_ids: set[int], order_ids: set[int]) -> dict[int, dict[int, int]]:
    """Per shipment: units of each order line shipped by the order's earlier shipments."""
    rows = (
        ShipmentLine.objects.filter(shipment__order_id__in=order_ids)
        .values("shipment_id", "shipment__order_id", "line_id")
        .annotate(q=Sum("quantity"))
        .order_by("shipment_id")
    )
    by_order: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for r in rows:
        by_order[r["shipment__order_id"]].append((r["shipment_id"], r["line_id"], r["q"]))
    out: dict[int, dict[int, int]] = {}
    for shipments in by_order.values():
        done: dict[int, int] = defaultdict(int)
        for shipment_id in sorted({s for s, _, _ in shipments}):
            if shipment_id in shipment_ids:
                out[shipment_id] = dict(done)
            for s, line_id, q in shipments:
                if s == shipment_id:
                    done[line_id] += q
    return out


def _first_shipment(order_ids: set[int]) -> dict[int, int]:
    rows = ShipmentLine.objects.filter(shipment__order_id__in=order_ids).values_list(
        "shipment__order_id", "shipment_id"
    )
    first: dict[int, int] = {}
    for order_id, shipment_id in rows:
        first[order_id] = min(first.get(order_id, shipment_id), shipment_id)
    return first


def sales_postings(shipped: Sequence[Typed[OrderShipped]]) -> list[Posting]:
    order_ids = {s.payload.order_id for s in shipped}
    orders = _orders(order_ids)
    before = _shipped_before({s.payload.shipment_id for s in shipped}, order_ids)
    first = _first_shipment(order_ids)
    skus = {line.sku for o in orders.values() for line in o.lines.all()}
    costs = unit_costs(skus)
    return [
        _posting(
            s,
            orders[s.payload.order_id],
            before.get(s.payload.shipment_id, {}),
            first.get(s.payload.order_id) == s.payload.shipment_id,
            costs,
        )
        for s in shipped
        if s.payload.order_id in orders
    ]


def _posting(
    shipped: Typed[OrderShipped],
    order: Order,
    done: dict[int, int],
    first: bool,
    costs: dict[str, UnitCost],
) -> Posting:
    c, inclusive = order.currency, order.prices_include_tax
    src = SourceRef(SourceType.ORDER, order.pk, ZERO)
    legs = LegsBuilder(c)
    notes: list[str] = []
    lines = {line.pk: line for line in order.lines.all()}
    taxes: dict[int, list[TaxLine]] = defaultdict(list)
    for t in order.tax_lines.all():
        taxes[t.line_id or 0].append(t)

    def credit(kind: str, amount: Decimal, **extra: str) -> None:
        legs.add(kind, -amount, _src(src, -amount), **extra)

    for q in shipped.payload.lines:
        line = lines.get(q.line_id)
        if line is None:
            continue
        n, before = line.quantity, done.get(line.pk, 0)
        price = units_share(line.unit_price * n, before, q.quantity, n, c)
        goods = units_share(line.unit_price * n - line.discount, before, q.quantity, n, c)
        tax = ZERO
        for t in taxes.get(line.pk, []):
            part = units_share(t.amount, before, q.quantity, n, c)
            tax += part
            credit(K.TAX_PAYABLE, part, jurisdiction=jurisdiction_of(t))
        earned = price - tax if inclusive else price
        credit(K.GIFT_CARD_LIABILITY if line.is_gift_card else K.REVENUE, earned)
        legs.add(K.DISCOUNT, price - goods, _src(src, price - goods))
        if not line.is_gift_card:
            _cogs(legs, src, line, q.quantity, costs, order.legal_entity.currency, notes)
    if first:
        for ship in order.shipping_lines.all():
            legs.add(K.DISCOUNT, ship.discount, _src(src, ship.discount))
            credit(K.SHIPPING_REVENUE, ship.amount - (ship.tax if inclusive else ZERO))
        for fee in order.fee_lines.all():
            credit(K.REVENUE, fee.amount - (fee.tax if inclusive else ZERO))
        for t in order.tax_lines.all():
            if t.target != TaxLine.Target.LINE:
                credit(K.TAX_PAYABLE, quantize(t.amount, c), jurisdiction=jurisdiction_of(t))
    owed = -legs.total()  # what the customer paid for what shipped: the tenders' side
    tenders = [p for p in order.payments.all() if p.amount > 0]
    methods = [tender_of(p.gateway, p.kind) for p in tenders] or [""]
    parts = allocate(owed, [p.amount for p in tenders], c) if tenders else [owed]
    for method, part in zip(methods, parts, strict=True):
        kind = LIABILITY_TENDERS.get(method, K.CLEARING)
        legs.add(kind, part, _src(src, part), payment_method=method)
    main = max(tenders, key=lambda p: (p.amount, -p.pk), default=None)
    return Posting(
        event_name=OrderShipped.EVENT,  # type: ignore[attr-defined]
        source_id=shipped.payload.shipment_id,
        event_id=shipped.event.pk,
        legal_entity=order.legal_entity.code,
        channel=order.channel.code,
        payment_method=tender_of(main.gateway, main.kind) if main else "",
        posting_date=local_date(shipped.payload.shipped_at),
        legs=tuple(legs.legs),
        order_id=order.pk,
        notes=tuple(notes),
        correlation_id=shipped.event.correlation_id,
    )


def _src(src: SourceRef, amount: Decimal) -> SourceRef:
    return SourceRef(src.type, src.id, amount)


def _cogs(
    legs: LegsBuilder,
    src: SourceRef,
    line: OrderLine,
    quantity: int,
    costs: dict[str, UnitCost],
    book_currency: str,
    notes: list[str],
) -> None:
    cost = costs.get(line.sku)
    if cost is None or cost.amount is None:
        notes.append(f"No unit cost for {line.sku}: its COGS is 0.")
        return
    currency = cost.currency or book_currency
    amount = quantize(cost.amount * quantity, currency)
    legs.add(K.COGS, amount, _src(src, amount), currency=currency)
    legs.add(K.INVENTORY, -amount, _src(src, -amount), currency=currency)
