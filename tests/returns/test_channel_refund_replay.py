"""A refund the channel reports is kept like every delivery, and `manage.py replay` runs it again
from its stored bytes once the cause of its refusal is gone: the core replays every kind of
message an app registered, not only orders, and reports a kind nobody registered."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from retailsync.core.models import ExceptionItem, InboundMessage
from returns.models import Return
from tests.returns.conftest import shipped_order

pytestmark = pytest.mark.django_db

# One scarf of order R-1 (tests/returns/conftest.py): 3 at 20.00 less 7.00 discount is 17.67 a
# scarf, plus its share of the two taxes, (3.18 + 1.33) / 3 = 1.50: 19.17.
REFUND = {
    "id": "RF-7",
    "order_id": "R-1",
    "amount": "19.17",
    "lines": [{"line_id": "S", "quantity": 1}],
}


def post_refund(shop, body):  # type: ignore[no-untyped-def]
    return shop.post("/api/v1/channels/web/refunds", json.dumps(body).encode())


def test_a_refund_refused_for_an_unknown_order_is_replayed_once_the_order_is_there(shop, capsys):
    refused = post_refund(shop, REFUND)

    assert refused.status_code == 422
    assert refused.json() == {
        "errors": [{"field": "order_id", "message": "order R-1 is not known"}]
    }
    message = InboundMessage.objects.get(kind="refund")
    assert message.status == InboundMessage.Status.REJECTED
    assert ExceptionItem.objects.filter(kind="refund_rejected").count() == 1

    shipped_order(shop)  # the order arrives, and ships
    call_command("replay", str(message.pk))

    ret = Return.objects.get(external_id="RF-7")
    line = json.loads(capsys.readouterr().out.strip())
    assert line == {"message": message.pk, "status": "processed", "detail": f"created RMA-{ret.pk}"}
    message.refresh_from_db()
    assert (message.status, message.attempts, message.result) == (
        "processed",
        2,
        {"return": ret.pk},
    )
    assert ret.status == Return.Status.REFUNDED
    assert ret.refund_amount == Decimal("19.17")
    assert [(x.order_line.external_id, x.quantity) for x in ret.lines.all()] == [("S", 1)]
    assert not ExceptionItem.objects.filter(kind="refund_mismatch").exists()


def test_replaying_a_refund_already_recorded_changes_nothing(shop, capsys):
    shipped_order(shop)
    assert post_refund(shop, REFUND).status_code == 201
    message = InboundMessage.objects.get(kind="refund")

    call_command("replay", str(message.pk))

    ret = Return.objects.get()
    line = json.loads(capsys.readouterr().out.strip())
    assert line == {
        "message": message.pk,
        "status": "duplicate",
        "detail": f"duplicate RMA-{ret.pk}",
    }
    assert ret.refund_amount == Decimal("19.17")


def test_a_message_of_a_kind_nobody_processes_is_reported_not_replayed(shop, capsys):
    order_id = shipped_order(shop)
    cancelled = shop.post(f"/api/v1/orders/{order_id}/cancel", b"{}")
    assert cancelled.status_code == 409  # shipped in full: kept, and answered
    message = InboundMessage.objects.get(kind="cancel")

    call_command("replay", str(message.pk))

    line = json.loads(capsys.readouterr().out.strip())
    assert line == {"message": message.pk, "status": "skipped", "detail": "no pipeline for cancel"}
    message.refresh_from_db()
    assert message.attempts == 1
