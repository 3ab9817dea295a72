"""What finance must act on today, for the overview page: each figure with the link to the
filtered list that shows exactly those records (the list's count is the card's count).

The composition root may read every app. A constant number of aggregate queries, whatever
the volume.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils import timezone

from journals.models import JournalEntry
from orders.models import Order
from returns.models import Return
from settlements.models import SettlementBatch

from .core.models import ExceptionItem
from .core.sla import overdue_q


@dataclass(frozen=True, slots=True)
class Card:
    key: str
    label: str
    count: int
    url: str
    bad: bool = False
    amounts: list[tuple[str, Decimal]] = field(default_factory=list)  # (currency, total)


def _url(name: str, **query: object) -> str:
    return f"{reverse(name)}?{urlencode(query)}" if query else reverse(name)


def exception_cards(now: datetime) -> list[Card]:
    """Open exceptions raised today, 1-3 days ago, earlier (by the day in the site's time
    zone, as the queue's date filters count), and those past their SLA."""
    today = timezone.localdate(now)
    three = today - timedelta(days=3)
    one = today - timedelta(days=1)
    four = today - timedelta(days=4)
    counts = ExceptionItem.objects.filter(status=ExceptionItem.Status.OPEN).aggregate(
        today=Count("pk", filter=Q(created_at__date__gte=today)),
        recent=Count("pk", filter=Q(created_at__date__gte=three, created_at__date__lte=one)),
        older=Count("pk", filter=Q(created_at__date__lte=four)),
        overdue=Count("pk", filter=overdue_q(now)),
    )
    queue = "exception-queue"
    return [
        Card(
            "exceptions-today",
            "Exceptions raised today",
            counts["today"],
            _url(queue, status="open", raised_from=today),
        ),
        Card(
            "exceptions-1-3-days",
            "Exceptions 1–3 days old",
            counts["recent"],
            _url(queue, status="open", raised_from=three, raised_to=one),
        ),
        Card(
            "exceptions-older",
            "Exceptions older than 3 days",
            counts["older"],
            _url(queue, status="open", raised_to=four),
            bad=bool(counts["older"]),
        ),
        Card(
            "exceptions-overdue",
            "Exceptions past their SLA",
            counts["overdue"],
            _url(queue, status="open", overdue="true"),
            bad=bool(counts["overdue"]),
        ),
    ]


def _per_currency(rows: list[dict[str, object]]) -> list[tuple[str, Decimal]]:
    return [(str(r["currency"]), Decimal(str(r["total"] or 0))) for r in rows]


def money_cards() -> list[Card]:
    """Refunds waiting for finance's approval, payouts that differ from their lines, payouts
    the bank has not seen, and journal entries not yet approved or not yet posted."""
    inspected = Return.objects.filter(status=Return.Status.INSPECTED)
    variance = Q(variance__gte=Decimal("0.01")) | Q(variance__lte=Decimal("-0.01"))
    varied = SettlementBatch.objects.filter(variance)
    missing = SettlementBatch.objects.filter(deposit_status=SettlementBatch.DepositStatus.MISSING)
    journals = JournalEntry.objects.filter(
        status__in=[JournalEntry.Status.DRAFT, JournalEntry.Status.APPROVED]
    )
    drafts = journals.filter(status=JournalEntry.Status.DRAFT).count()
    approved = journals.filter(status=JournalEntry.Status.APPROVED).count()
    journal_list = reverse("journal-list-page")
    return [
        Card(
            "refunds-awaiting",
            "Refunds awaiting approval",
            inspected.count(),
            _url("return-queue", status=Return.Status.INSPECTED),
        ),
        Card(
            "batches-variance",
            "Payouts with a variance",
            varied.count(),
            _url("settlement-list-page", variance="nonzero"),
            bad=varied.exists(),
            amounts=_per_currency(
                list(varied.values("currency").annotate(total=Sum("variance")).order_by("currency"))
            ),
        ),
        Card(
            "deposits-missing",
            "Deposits missing",
            missing.count(),
            _url("settlement-list-page", deposit_status=SettlementBatch.DepositStatus.MISSING),
            bad=missing.exists(),
            amounts=_per_currency(
                list(
                    missing.values("currency")
                    .annotate(total=Sum("payout_amount"))
                    .order_by("currency")
                )
            ),
        ),
        Card(
            "journals-draft",
            "Journal entries to approve",
            drafts,
            f"{journal_list}?status={JournalEntry.Status.DRAFT}",
        ),
        Card(
            "journals-approved",
            "Journal entries approved, not posted",
            approved,
            f"{journal_list}?status={JournalEntry.Status.APPROVED}",
        ),
    ]


@dataclass(frozen=True, slots=True)
class CurrencyRow:
    currency: str
    orders_today: int
    orders_today_value: Decimal
    orders_link: str


def currency_totals(today: date) -> list[CurrencyRow]:
    """Orders placed today, per currency: what came in, each row a link to those orders."""
    rows = (
        Order.objects.filter(placed_at__date=today)
        .values("currency")
        .annotate(n=Count("pk"), value=Sum("total"))
        .order_by("currency")
    )
    link = _url("order-list-page", placed_from=today, placed_to=today)
    return [CurrencyRow(r["currency"], r["n"], r["value"] or Decimal(0), link) for r in rows]
