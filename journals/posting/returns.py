"""Returns, once financially complete (`return.closed`): the credit memo and the goods.

Revenue given back at the goods' refund (net of discount, tax excluded), tax reversed per
jurisdiction exactly as the refund recorded it, shipping refunded, restocking fee earned; the
other side is what the customer got: the original tender's clearing account, or a store credit
or gift card (liabilities); what went to an exchange order stays on clearing, where that order's
sale is posted. Units back in stock (restocked or held) return to inventory at cost; damaged
and scrapped ones are written down; missing ones leave COGS as it was.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from django.db.models import Prefetch

from retailsync.core.contracts import Typed
from retailsync.core.money import quantize
from returns.events import ReturnClosed
from returns.models import RefundPayment, Return, ReturnLine

from ..models import AmountKind as K
from ..models import SourceType
from .legs import ZERO, LegsBuilder, Posting, SourceRef
from .sales import LIABILITY_TENDERS, UnitCost, tender_of, unit_costs
from .when import local_date


def return_postings(closed: Sequence[Typed[ReturnClosed]]) -> list[Posting]:
    returns = (
        Return.objects.select_related("order__legal_entity", "channel")
        .prefetch_related(
            Prefetch(
                "lines", queryset=ReturnLine.objects.select_related("order_line").order_by("pk")
            ),
            "tax_reversals",
            Prefetch("refunds", queryset=RefundPayment.objects.order_by("pk")),
            "order__payments",
        )
        .in_bulk([c.payload.return_id for c in closed])
    )
    skus = {line.order_line.sku for r in returns.values() for line in r.lines.all()}
    costs = unit_costs(skus)
    out = []
    for c in closed:
        ret = returns.get(c.payload.return_id)
        if ret is None:
            continue
        out.append(_posting(c, ret, costs))
    return out


def _posting(closed: Typed[ReturnClosed], ret: Return, costs: dict[str, UnitCost]) -> Posting:
    order, currency = ret.order, ret.currency
    legs = LegsBuilder(currency)
    notes: list[str] = []

    def add(kind: str, amount: Decimal, **extra: str) -> None:
        legs.add(kind, amount, SourceRef(SourceType.RETURN, ret.pk, amount), **extra)

    for line in ret.lines.all():
        kind = K.GIFT_CARD_LIABILITY if line.order_line.is_gift_card else K.REVENUE
        add(kind, line.amount)
    by_jurisdiction: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for r in ret.tax_reversals.all():
        by_jurisdiction[r.jurisdiction] += r.amount
    for jurisdiction, amount in by_jurisdiction.items():
        add(K.TAX_PAYABLE, amount, jurisdiction=jurisdiction)
    add(K.SHIPPING_REVENUE, ret.refund_shipping)
    add(K.RESTOCKING_FEE, -ret.restocking_fee)
    owed = legs.total()  # what the customer is given, in money or credit
    tenders = [p for p in order.payments.all() if p.amount > 0]
    main = max(tenders, key=lambda p: (p.amount, -p.pk), default=None)
    main_method = tender_of(main.gateway, main.kind) if main else ""
    refunded = ZERO
    for refund in ret.refunds.all():
        if refund.method in LIABILITY_TENDERS:
            method, kind = refund.method, LIABILITY_TENDERS[refund.method]
        else:
            method = refund.gateway.strip().lower() or main_method
            kind = LIABILITY_TENDERS.get(method, K.CLEARING)
        add(kind, -refund.amount, payment_method=method)
        refunded += refund.amount
    rest = owed - refunded
    if rest:
        notes.append(
            f"RMA-{ret.pk}: {rest:f} {currency} of its credit memo went to an exchange or was "
            "not refunded in money; it stays on clearing."
        )
        add(K.CLEARING, -rest, payment_method=main_method, description="Exchange credit")
    _goods(legs, ret, costs, order.legal_entity.currency, notes)
    return Posting(
        event_name=ReturnClosed.EVENT,  # type: ignore[attr-defined]
        source_id=ret.pk,
        event_id=closed.event.pk,
        legal_entity=order.legal_entity.code,
        channel=ret.channel.code,
        payment_method=main_method,
        posting_date=local_date(closed.event.created_at),
        legs=tuple(legs.legs),
        order_id=order.pk,
        notes=tuple(notes),
        correlation_id=closed.event.correlation_id,
    )


def _goods(
    legs: LegsBuilder, ret: Return, costs: dict[str, UnitCost], book: str, notes: list[str]
) -> None:
    for line in ret.lines.all():
        if line.order_line.is_gift_card:
            continue
        sku = line.order_line.sku
        cost = costs.get(sku)
        back, lost = line.restocked + line.held, line.damaged + line.scrapped
        if not (back or lost):
            continue
        if cost is None or cost.amount is None:
            notes.append(f"No unit cost for {sku}: its returned units are posted at 0.")
            continue
        c = cost.currency or book

        def add(kind: str, amount: Decimal, cur: str = c) -> None:
            legs.add(kind, amount, SourceRef(SourceType.RETURN, ret.pk, amount), currency=cur)

        restored = quantize(cost.amount * back, c)
        written = quantize(cost.amount * lost, c)
        add(K.INVENTORY, restored)
        add(K.INVENTORY_WRITEDOWN, written)
        add(K.COGS, -(restored + written))
