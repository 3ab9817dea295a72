"""The daily rollup the dashboard reads its large figures from stays equal to the records, whoever
writes them: the app, or SQL the app never sees (an operator in psql, a bulk load). The data is
the Stripe payout of tests/settlements: three orders of 2026-11-20 for 220.21, settled 212.21
gross, 204.55 net."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from orders.models import Order
from retailsync.reconciliation.figures import (
    PASSES,
    ByDay,
    Period,
    Scope,
    figures_by_day,
    pass_by_day,
)
from retailsync.reconciliation.models import DailyFigure, StaleDay
from settlements.models import SettlementLine
from tests.settlements.flows import upload

pytestmark = pytest.mark.django_db
NOVEMBER = Scope(Period.month("2026-11"))


def live(scope: Scope) -> ByDay:
    """Every figure straight from its records, no rollup."""
    found: ByDay = {}
    for source in PASSES:
        found.update(pass_by_day(source, [(scope.period.start, scope.period.end)]))
    return found


def total(figures: ByDay, name: str) -> Decimal:
    return sum(figures[name].values(), Decimal(0))


@pytest.fixture
def settled(stripe_orders: Any) -> Any:
    assert upload("flows/stripe_po_first.csv", "stripe").status == "done"
    return stripe_orders


def test_the_rollup_is_the_records_after_writes_the_app_never_sees(settled: Any) -> None:
    read = figures_by_day(NOVEMBER)
    assert read == live(NOVEMBER)
    assert DailyFigure.objects.filter(figure="orders").exists()  # read from the rollup
    assert (total(read, "orders"), total(read, "settled_net")) == (
        Decimal("220.21"),
        Decimal("204.55"),
    )

    moved = Order.objects.get(total=Decimal("70.21"))
    dropped = SettlementLine.objects.filter(batch__is_statement=False, kind="charge").first()
    assert dropped is not None
    with connection.cursor() as cursor:  # as psql would: no model, no signal, no event
        cursor.execute("UPDATE orders_order SET total = total + 1 WHERE total = 100")
        cursor.execute(
            "UPDATE orders_order SET placed_at = placed_at - interval '30 days' WHERE id = %s",
            [moved.pk],
        )
        cursor.execute(
            "UPDATE settlements_settlementline SET expected_id = NULL WHERE id = %s", [dropped.pk]
        )
        cursor.execute("DELETE FROM settlements_settlementline WHERE id = %s", [dropped.pk])

    again = figures_by_day(NOVEMBER)
    assert again == live(NOVEMBER)
    assert total(again, "orders") == Decimal("151.00")  # 220.21 - 70.21 moved to October + 1
    assert total(again, "settled_net") == Decimal("204.55") - dropped.net
    october = Scope(Period.month("2026-10"))
    assert total(figures_by_day(october), "orders") == Decimal("70.21")
    assert not StaleDay.objects.exists()  # all taken in


def test_matching_a_batch_again_makes_no_day_stale(settled: Any) -> None:
    figures_by_day(NOVEMBER)
    assert not StaleDay.objects.exists()
    SettlementLine.objects.update(outcome="unmatched", rule="", reason="")  # what a re-run does
    assert not StaleDay.objects.exists()
    Order.objects.update(status="shipped")
    assert not StaleDay.objects.exists()


def test_an_order_line_repriced_after_shipping_restates_every_day_shipped(settled: Any) -> None:
    figures_by_day(NOVEMBER)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE orders_orderline SET total = total * 2")
    assert StaleDay.objects.filter(source="shipped", day=None).exists()
    assert figures_by_day(NOVEMBER) == live(NOVEMBER)


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_the_beats_refresh_takes_the_stale_days_in_on_a_worker(channel: Any, worker: None) -> None:
    from retailsync.celery import app as celery_app
    from tests.conftest import wait_for
    from tests.settlements.flows import paid_order

    assert channel.post_order(paid_order(2001, "80.10", [("ch_W2001", "80.10")])).status_code == 201
    assert StaleDay.objects.filter(source="orders").exists()
    # What the beat sends every minute (retailsync/beat.py), to the real worker.
    celery_app.send_task("retailsync.reconciliation.tasks.rollup_refresh_task")
    wait_for(lambda: not StaleDay.objects.filter(source="orders").exists())
    [row] = DailyFigure.objects.filter(figure="orders")
    assert (row.amount, row.channel_id) == (Decimal("80.10"), channel.channel.pk)
