"""What a return gives back, worked out from the original order. The one computation: finance
reads it as the quote before approving, and the refund records exactly it.

A line's share of what was paid (net of its discounts) and of each tax line is split
cumulatively (refunding units r+1..r+q of n costs share(r+q) − share(r)), so all partial
returns of a line add up to exactly what it cost and a later return can never refund a cent
more than the remainder.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum

from orders.models import Order
from orders.models import TaxLine as OrderTaxLine
from retailsync.core.money import quantize

from .models import Return, ReturnLine, ReturnPolicy
from .rules import policy_for

S = Return.Status
ZERO = Decimal(0)
Reversal = tuple[OrderTaxLine, Decimal]


def _share(total: Decimal, k: int, n: int, currency: str) -> Decimal:
    return quantize(total * k / n, currency) if n else ZERO


def _units(total: Decimal, done: int, q: int, n: int, currency: str) -> Decimal:
    """The share of `total` (for n units) of units done+1..done+q."""
    return _share(total, done + q, n, currency) - _share(total, done, n, currency)


def jurisdiction_of(tax_line: OrderTaxLine) -> str:
    return tax_line.jurisdiction or tax_line.title


@dataclass(frozen=True, slots=True)
class LineRefund:
    line: ReturnLine
    price: Decimal  # the units at their price before discounts
    discount: Decimal  # their share of the line's discounts
    amount: Decimal  # goods, net of discount, tax excluded
    tax: Decimal
    fee: Decimal
    reversals: list[Reversal]

    @property
    def total(self) -> Decimal:
        return self.amount + self.tax - self.fee


@dataclass(frozen=True, slots=True)
class RefundQuote:
    currency: str
    lines: list[LineRefund]
    shipping: Decimal  # tax excluded
    shipping_reversals: list[Reversal]
    exchange_credit: Decimal  # what the replacement order costs, paid out of this return

    @property
    def shipping_tax(self) -> Decimal:
        return sum((a for _, a in self.shipping_reversals), ZERO)

    @property
    def goods(self) -> Decimal:
        return sum((x.amount for x in self.lines), ZERO)

    @property
    def tax(self) -> Decimal:
        return sum((x.tax for x in self.lines), ZERO) + self.shipping_tax

    @property
    def fee(self) -> Decimal:
        return sum((x.fee for x in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        """What the returned goods, their tax and shipping are worth, less the fee."""
        return self.goods + self.tax + self.shipping - self.fee

    @property
    def amount(self) -> Decimal:
        """What goes back to the customer."""
        return max(self.total - self.exchange_credit, ZERO)

    @property
    def exchange_due(self) -> Decimal:
        """A dearer replacement: what the customer still owes on the exchange order."""
        return max(self.exchange_credit - self.total, ZERO)

    def by_jurisdiction(self) -> list[tuple[str, Decimal]]:
        """Tax given back per jurisdiction, lines and shipping together, in order of appearance."""
        out: dict[str, Decimal] = {}
        for x in self.lines:
            for t, a in x.reversals:
                out[jurisdiction_of(t)] = out.get(jurisdiction_of(t), ZERO) + a
        for t, a in self.shipping_reversals:
            out[jurisdiction_of(t)] = out.get(jurisdiction_of(t), ZERO) + a
        return list(out.items())


def refund_quote(ret: Return) -> RefundQuote:
    """What this return gives back now, per line, plus shipping and its tax, from the order."""
    order, currency = ret.order, ret.currency
    policy = policy_for(order)
    earlier = dict(
        ReturnLine.objects.filter(order_line__order=order, ret__status__in=[S.REFUNDED, S.CLOSED])
        .exclude(ret=ret)
        .values("order_line_id")
        .annotate(n=Sum("quantity"))
        .values_list("order_line_id", "n")
    )
    taxes: dict[int, list[OrderTaxLine]] = {}
    for t in OrderTaxLine.objects.filter(order=order).order_by("pk"):
        taxes.setdefault(t.line_id or 0, []).append(t)
    out = []
    for line in ret.lines.select_related("order_line").order_by("pk"):
        ol, q = line.order_line, line.quantity
        done, n = earlier.get(ol.pk, 0), ol.quantity
        goods = _units(ol.unit_price * n - ol.discount, done, q, n, currency)
        price = _units(ol.unit_price * n, done, q, n, currency)
        reversals = [(t, _units(t.amount, done, q, n, currency)) for t in taxes.get(ol.pk, [])]
        tax = sum((a for _, a in reversals), ZERO)
        net = goods - tax if order.prices_include_tax else goods
        percent = Decimal(str(policy.restocking_fee_percent.get(line.reason, 0)))
        fee = quantize(net * percent / 100, currency)
        out.append(LineRefund(line, price, price - goods, net, tax, fee, reversals))
    shipping, shipping_reversals = _shipping_refund(ret, policy, out)
    return RefundQuote(currency, out, shipping, shipping_reversals, _exchange_credit(ret))


def _shipping_refund(
    ret: Return, policy: ReturnPolicy, lines: list[LineRefund]
) -> tuple[Decimal, list[Reversal]]:
    order = ret.order
    already = (
        Return.objects.filter(order=order, status__in=[S.REFUNDED, S.CLOSED], refund_shipping__gt=0)
        .exclude(pk=ret.pk)
        .exists()
    )
    if already:
        return ZERO, []
    returned = sum(
        ReturnLine.objects.filter(order_line__order=order, ret__status__in=[S.REFUNDED, S.CLOSED])
        .exclude(ret=ret)
        .values_list("quantity", flat=True)
    ) + sum(x.line.quantity for x in lines)
    whole = returned >= sum(order.lines.values_list("quantity", flat=True))
    if not (policy.refund_shipping or whole):
        return ZERO, []
    currency = ret.currency
    amount = quantize(
        sum((s.amount - s.discount for s in order.shipping_lines.all()), ZERO), currency
    )
    reversals = [
        (t, quantize(t.amount, currency))
        for t in OrderTaxLine.objects.filter(
            order=order, target=OrderTaxLine.Target.SHIPPING
        ).order_by("pk")
        if t.amount
    ]
    tax = sum((a for _, a in reversals), ZERO)
    return (amount - tax if order.prices_include_tax else amount), reversals


def _exchange_credit(ret: Return) -> Decimal:
    if not ret.exchange_order_id:
        return ZERO
    total = Order.objects.filter(pk=ret.exchange_order_id).values_list("total", flat=True).get()
    return quantize(total, ret.currency)
