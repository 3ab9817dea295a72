"""The units returns take from an order's lines, through the orders service: never more than
shipped, whatever the caller saw, all or nothing, and the caller's transaction goes on."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from orders.lines import ReturnedBeyondShipped, order_lines_returned_add
from orders.models import OrderLine
from tests.orders.payloads import canonical_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def lines(channel, staff):
    """Both T-shirts and the mug of WEB-1001 shipped."""
    order_id = channel.post_order(canonical_order()).json()["id"]
    shipped = staff("operations").post(
        f"/api/v1/orders/{order_id}/shipments",
        {
            "location": "WH1",
            "lines": [{"sku": "TSHIRT-BLK-M", "quantity": 2}, {"sku": "MUG-WHT", "quantity": 1}],
        },
        format="json",
    )
    assert shipped.status_code == 201
    return {line.sku: line.pk for line in OrderLine.objects.filter(order_id=order_id)}


def returned(line_id: int) -> int:
    return OrderLine.objects.get(pk=line_id).quantity_returned


def test_more_returned_than_shipped_is_refused_and_the_callers_transaction_goes_on(lines):
    shirt = lines["TSHIRT-BLK-M"]
    with transaction.atomic():
        order_lines_returned_add(quantities={shirt: 2})
        with pytest.raises(ReturnedBeyondShipped) as refused:
            order_lines_returned_add(quantities={shirt: 1})
        assert refused.value.status_code == 422
        assert refused.value.as_dicts() == [
            {"field": "", "message": "more would be returned than was shipped"}
        ]
        assert returned(shirt) == 2  # the transaction is usable: the refusal was a savepoint's
        order_lines_returned_add(quantities={shirt: -1})  # a return ends: one may come back
    assert returned(shirt) == 1


def test_several_lines_are_taken_all_or_none(lines):
    shirt, mug = lines["TSHIRT-BLK-M"], lines["MUG-WHT"]

    with pytest.raises(ReturnedBeyondShipped):
        order_lines_returned_add(quantities={shirt: 1, mug: 2})

    assert (returned(shirt), returned(mug)) == (0, 0)
    order_lines_returned_add(quantities={shirt: 1, mug: 1})
    assert (returned(shirt), returned(mug)) == (1, 1)


def test_another_broken_constraint_is_not_taken_for_too_many_returned(lines):
    """Giving back units no return took breaks "not negative", not "returned ≤ shipped": it is
    an error of the caller's, not a refusal to show a person."""
    with pytest.raises(IntegrityError), transaction.atomic():
        order_lines_returned_add(quantities={lines["MUG-WHT"]: -1})
    assert returned(lines["MUG-WHT"]) == 0
