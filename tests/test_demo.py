"""`make demo` loads the demo retailer with seed_demo: it must work, and twice."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from inventory.models import ChannelAvailability, Reservation
from orders.models import Order
from retailsync.models import Channel, ExceptionItem
from returns.models import Return


@pytest.mark.django_db(transaction=True)
def test_seed_demo_loads_every_screen_and_is_idempotent(capsys):
    call_command("seed_demo", orders_per_channel=6)
    first = json.loads(capsys.readouterr().out)

    assert set(Channel.objects.values_list("source", flat=True)) == {
        "shopify",
        "amazon",
        "pos",
        "magento",
        "woocommerce",
        "canonical",
    }
    # One order per channel is wrong on purpose and waits in the exception queue.
    assert (first["orders"], first["rejected"]) == (30, 6)
    assert ExceptionItem.objects.filter(kind="order_rejected").count() == 6
    assert Reservation.objects.exists()
    assert ChannelAvailability.objects.exists()
    assert Return.objects.exists()
    counts = (Order.objects.count(), Return.objects.count(), Reservation.objects.count())

    call_command("seed_demo", orders_per_channel=6)
    again = json.loads(capsys.readouterr().out)

    assert (again["orders"], again["rejected"], again["channels"]) == (0, 0, {})
    assert (Order.objects.count(), Return.objects.count(), Reservation.objects.count()) == counts
