"""What should arrive: an expectation per captured payment, and per refund paid back to the
original tender, with the fee the provider's schedule says and the date its payout lag gives.

Built in bulk from a chunk of events (one query per kind of fact, one insert), once per event
(`source` is unique). A marketplace collecting the tax itself (`TaxLine.collected_by_channel`)
pays out without it, so it is not expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Sum

from orders.models import Order, Payment, TaxLine
from returns.models import RefundPayment

from .models import ExpectedSettlement, FeeSchedule, ProviderSettings

_CENT = Decimal("0.01")
_NOT_CAPTURED = ("gift_card", "authorization", "void")


def provider_of(gateway: str, source: str) -> str:
    """Which provider's files will carry this payment (by the gateway's name)."""
    name = gateway.lower()
    for provider, words in (
        ("paypal", ("paypal",)),
        ("adyen", ("adyen",)),
        ("stripe", ("stripe", "shopify_payments", "shopify payments")),
        ("amazon", ("amazon",)),
    ):
        if any(w in name for w in words):
            return provider
    return "amazon" if source == "amazon" else ""


class Schedules:
    """The fee schedules and payout lags, read once per chunk."""

    def __init__(self) -> None:
        self.fees = list(FeeSchedule.objects.all())
        self.settings = {s.provider: s for s in ProviderSettings.objects.all()}

    def schedule(
        self, provider: str, method: str, category: str, currency: str
    ) -> FeeSchedule | None:
        best, score = None, -1
        for s in self.fees:
            if s.provider != provider:
                continue
            fit = [
                (s.payment_method, method.lower()),
                (s.category, category.lower()),
                (s.currency, currency.lower()),
            ]
            if any(want and want.lower() != have for want, have in fit):
                continue
            rank = sum(1 for want, _ in fit if want)
            if rank > score:
                best, score = s, rank
        return best

    def fee(self, schedule: FeeSchedule | None, gross: Decimal) -> Decimal:
        if schedule is None:
            return Decimal(0)
        fee = abs(gross) * schedule.percent / 100 + schedule.fixed
        return -fee.quantize(_CENT, ROUND_HALF_UP)

    def due(self, provider: str, schedule: FeeSchedule | None, start: date) -> date:
        lag = (
            schedule.payout_lag_days if schedule and schedule.payout_lag_days is not None else None
        )
        if lag is None:
            found = self.settings.get(provider)
            lag = found.payout_lag_days if found else 2
        return start + timedelta(days=lag)


def charges_expect(order_ids: Sequence[int], *, now: datetime) -> int:
    """Expectations for these paid orders' captured payments."""
    schedules = Schedules()
    orders = {o.pk: o for o in Order.objects.filter(pk__in=order_ids).select_related("channel")}
    payments: dict[int, list[Payment]] = {}
    for payment in Payment.objects.filter(order_id__in=order_ids).exclude(kind__in=_NOT_CAPTURED):
        payments.setdefault(payment.order_id, []).append(payment)
    withheld = dict(
        TaxLine.objects.filter(order_id__in=order_ids, collected_by_channel=True)
        .values("order_id")
        .annotate(t=Sum("amount"))
        .values_list("order_id", "t")
    )
    rows = []
    for order_id in order_ids:
        order = orders.get(order_id)
        if order is None:
            continue
        source = order.channel.source
        found: list[Payment | None] = list(payments.get(order_id, [])) or [None]
        for p in found:
            gross = (
                (p.captured_amount if p.captured_amount is not None else p.amount)
                if p is not None
                else order.total - (withheld.get(order_id) or 0)
            )
            if p is not None and len(found) == 1:
                gross = min(gross, order.total - (withheld.get(order_id) or 0))
            provider = provider_of(p.gateway if p else "", source)
            method = (p.method if p else "") or ""
            category = str((p.metadata or {}).get("card_brand", "")) if p else ""
            schedule = schedules.schedule(provider, method, category, order.currency)
            rows.append(
                ExpectedSettlement(
                    order_id=order_id,
                    kind=ExpectedSettlement.Kind.CHARGE,
                    source=f"order:{order_id}:payment:{p.pk if p else 0}",
                    provider=provider,
                    payment_method=method[:40],
                    payment_ref=(p.reference if p else "")[:200],
                    currency=p.currency if p else order.currency,
                    gross=gross,
                    fee=schedules.fee(schedule, gross),
                    expected_on=schedules.due(provider, schedule, order.placed_at.date()),
                    created_at=now,
                )
            )
    return len(ExpectedSettlement.objects.bulk_create(rows, ignore_conflicts=True))


def refund_expect(*, return_id: int, order_id: int, source: str, now: datetime) -> int:
    """The expectations of a refund paid back to the original tender."""
    schedules = Schedules()
    rows = []
    for r in RefundPayment.objects.filter(ret_id=return_id, method="original").select_related(
        "ret__channel"
    ):
        provider = provider_of(r.gateway, r.ret.channel.source)
        rows.append(
            ExpectedSettlement(
                order_id=order_id,
                kind=ExpectedSettlement.Kind.REFUND,
                source=f"{source}:{r.pk}",
                provider=provider,
                payment_method="",
                payment_ref=r.psp_refund_id,
                currency=r.currency,
                gross=-r.amount,
                fee=Decimal(0),
                expected_on=schedules.due(provider, None, r.created_at.date()),
                created_at=now,
            )
        )
    return len(ExpectedSettlement.objects.bulk_create(rows, ignore_conflicts=True))
