"""A backlog of availability marks: a burst of orders leaves more marks than one statement may
name (PostgreSQL takes at most 65,535 parameters), the refresh still drains them chunk by chunk,
the channel's feed catches up to the true figures, and people are told while it lags."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from inventory.availability import availability_refresh, availability_refresh_all
from inventory.models import AvailabilityDirty
from inventory.services import allocation_set, location_upsert
from tests.conftest import ChannelClient, wait_for

ITEMS = 3_200
ROUNDS = 25  # marks per item: 80,000 in all, as from 40,000 two-line orders
SAFETY = 2


def sku(n: int) -> str:
    return f"BK-{n:05d}"


def before(n: int) -> int:
    """Item n's figure before the burst: on hand n % 40 + 5, reserved n % 5, less safety 2."""
    return n % 40 + 5 - n % 5 - SAFETY


def after(n: int) -> int:
    """The burst reserved one more unit of every item: each figure is one lower (never below 1,
    as n % 40 >= n % 5)."""
    return before(n) - 1


@pytest.fixture
def catalog(make_channel) -> ChannelClient:
    """ITEMS items at WH1, a channel selling WH1 with a safety stock of 2, figures published."""
    location, _ = location_upsert(code="WH1", kind="warehouse")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO inventory_item (sku, description, cost_currency, is_active)"
            " SELECT 'BK-' || lpad(n::text, 5, '0'), '', '', true"
            " FROM generate_series(1, %s) n",
            [ITEMS],
        )
        cursor.execute(
            "INSERT INTO inventory_position (item_id, location_id, on_hand, reserved, in_transit,"
            " damaged, quality_hold, updated_at)"
            " SELECT i.id, %s, n %% 40 + 5, n %% 5, 0, 0, 0, now()"
            " FROM inventory_item i, LATERAL (SELECT substr(i.sku, 4)::int AS n) s"
            " WHERE i.sku LIKE 'BK-%%'",
            [location.pk],
        )
    web = make_channel(code="web")
    allocation_set(channel=web.channel, locations=["WH1"], safety_stock=SAFETY)
    availability_refresh_all()
    return web


def burst(*, marked_at_age: timedelta = timedelta(0), by_item: bool = False) -> int:
    """What 40,000 two-line orders leave behind: every item reserved one more unit, and
    ROUNDS marks per item waiting for the refresh, inserted set-based: round after round of
    every item (orders spread over the catalog), or `by_item`, an item's marks together."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE inventory_position p SET reserved = reserved + 1 FROM inventory_item i"
            " WHERE i.id = p.item_id AND i.sku LIKE 'BK-%%'"
        )
        cursor.execute(
            "INSERT INTO inventory_availabilitydirty (item_id, marked_at)"
            " SELECT i.id, %s FROM generate_series(1, %s) g, inventory_item i"
            f" WHERE i.sku LIKE 'BK-%%' ORDER BY {'i.id, g' if by_item else 'g, i.id'}",
            [timezone.now() - marked_at_age, ROUNDS],
        )
        return cursor.rowcount


def feed(web: ChannelClient, since: str = "") -> tuple[str, dict[str, int]]:
    """Read the channel's feed page by page, as the channel would; the latest figure per SKU."""
    seen: dict[str, int] = {}
    cursor = since
    while True:
        query = f"?since={cursor}" if cursor else ""
        response = web.client.get(
            f"/api/v1/channels/web/availability{query}", HTTP_AUTHORIZATION=f"Token {web.token}"
        )
        assert response.status_code == 200, response.json()
        body = response.json()
        if not body["items"]:
            return body["cursor"], seen
        seen |= {i["sku"]: i["available"] for i in body["items"]}
        cursor = body["cursor"]


def lag_exceptions(staff_client, status: str) -> list[dict]:
    response = staff_client.get(
        "/api/v1/exceptions/", {"kind": "availability_lag", "status": status}
    )
    assert response.status_code == 200, response.json()
    return response.json()["results"]


@pytest.mark.django_db
def test_a_backlog_past_the_parameter_limit_drains_and_the_feed_catches_up(catalog):
    cursor, first = feed(catalog)
    assert first == {sku(n): before(n) for n in range(1, ITEMS + 1)}
    assert burst() == ITEMS * ROUNDS > 65_535

    assert availability_refresh() == ITEMS  # every figure changed, once

    assert AvailabilityDirty.objects.count() == 0
    _, changed = feed(catalog, cursor)
    assert changed == {sku(n): after(n) for n in range(1, ITEMS + 1)}


@pytest.fixture
def poisoned() -> Iterator[str]:
    """POISON's figures cannot be written: a trigger refuses them, as a failing database would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE OR REPLACE FUNCTION test_refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF NEW.item_id = (SELECT id FROM inventory_item WHERE sku = 'POISON') THEN"
            " RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER test_refuse_poison BEFORE INSERT ON inventory_channelavailability"
            " FOR EACH ROW EXECUTE FUNCTION test_refuse_poison()"
        )
    try:
        yield "POISON"
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "DROP TRIGGER IF EXISTS test_refuse_poison ON inventory_channelavailability"
            )
            cursor.execute("DROP FUNCTION IF EXISTS test_refuse_poison()")


@pytest.mark.django_db(transaction=True)
def test_a_failing_refresh_keeps_what_it_drained_and_the_lag_is_raised_until_it_catches_up(
    catalog, staff, poisoned
):
    """Marks ten minutes old, an item's marks together, and the last of them for an item whose
    figure cannot be written: the eight chunks before it stay drained and published, the lag is
    an open exception while the refresh fails, and it is resolved once the refresh has caught
    up."""
    from inventory.marks import CLAIM_MARKS
    from inventory.services import item_upsert

    assert ITEMS * ROUNDS == 8 * CLAIM_MARKS  # whole items per chunk, POISON alone in the 9th

    ops = staff("operations")
    cursor, _ = feed(catalog)
    poison, _ = item_upsert(sku=poisoned, description="")
    AvailabilityDirty.objects.all().delete()
    burst(marked_at_age=timedelta(minutes=10), by_item=True)
    AvailabilityDirty.objects.create(item=poison, marked_at=timezone.now() - timedelta(minutes=10))

    with pytest.raises(Exception, match="refused by the test"):
        availability_refresh()

    # Every chunk before the poisoned one was committed: its figures are in the feed, its marks
    # are gone; only POISON's mark waits.
    assert list(AvailabilityDirty.objects.values_list("item__sku", flat=True)) == ["POISON"]
    cursor, changed = feed(catalog, cursor)
    assert changed == {sku(n): after(n) for n in range(1, ITEMS + 1)}
    [lag] = lag_exceptions(ops, "open")
    assert lag["reason"].startswith("The availability feed lags 10 min behind")
    assert lag["details"]["pending_marks"] == ITEMS * ROUNDS + 1

    with connection.cursor() as db:
        db.execute("DROP TRIGGER test_refuse_poison ON inventory_channelavailability")
    availability_refresh()

    assert AvailabilityDirty.objects.count() == 0
    assert feed(catalog, cursor)[1] == {"POISON": 0}
    assert lag_exceptions(ops, "open") == []
    [resolved] = lag_exceptions(ops, "resolved")
    assert resolved["id"] == lag["id"]
    assert resolved["resolution"].startswith("Caught up")


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_the_refresh_task_drains_a_backlog_through_the_worker(catalog, worker):
    """The beat's periodic refresh (or any request for it) drains the whole backlog."""
    from inventory.tasks import availability_refresh_task

    cursor, _ = feed(catalog)
    burst()

    availability_refresh_task.delay()

    wait_for(lambda: not AvailabilityDirty.objects.exists(), seconds=120)
    _, changed = feed(catalog, cursor)
    assert changed == {sku(n): after(n) for n in range(1, ITEMS + 1)}


@pytest.mark.django_db
def test_an_old_mark_raises_the_lag_once_and_draining_resolves_it(
    stock, make_channel, staff, settings
):
    from inventory.availability import availability_lag_check
    from inventory.models import Item

    settings.AVAILABILITY_LAG_ALERT_SECONDS = 300
    ops = staff("operations")
    web = make_channel(code="web")
    allocation_set(channel=web.channel, locations=["WH1"])
    availability_refresh()
    now = timezone.now()
    tee = Item.objects.get(sku="TEE")
    AvailabilityDirty.objects.create(item=tee, marked_at=now - timedelta(seconds=299))

    availability_lag_check(now=now)
    assert lag_exceptions(ops, "open") == []  # within the limit

    AvailabilityDirty.objects.create(item=tee, marked_at=now - timedelta(seconds=420))
    availability_lag_check(now=now)
    availability_lag_check(now=now + timedelta(seconds=15))
    [lag] = lag_exceptions(ops, "open")
    assert lag["occurrences"] == 2  # one open exception, seen twice
    assert lag["details"] == {"lag_seconds": 435, "limit_seconds": 300, "pending_marks": 2}
    assert lag["reason"] == (
        "The availability feed lags 7 min behind (limit 5 min): 2 stock changes wait for the "
        "refresh, and channels are told figures older than that."
    )

    availability_refresh(now=now + timedelta(seconds=30))

    assert lag_exceptions(ops, "open") == []
    [resolved] = lag_exceptions(ops, "resolved")
    assert resolved["resolution"] == "Caught up: no stock change waits for the refresh."
