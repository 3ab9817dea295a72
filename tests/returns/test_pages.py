"""The return pages through Django's test client: what each form accepts, refuses and defaults
to, which transitions are offered, and the refund quote before approval. The same paths run in
chromium in tests/browser/test_returns_pages.py."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from inventory.models import Location
from inventory.services import location_upsert
from orders.models import Order
from returns.models import Return, ReturnDesk
from tests.returns.conftest import shipped_order
from tests.returns.test_lifecycle import act, inspected, open_return, stock

pytestmark = pytest.mark.django_db


def browser_for(api_client) -> Client:
    client = Client()
    client.force_login(api_client.user)
    return client


def authorized(shop, lines=None):
    rid = open_return(
        shop,
        shipped_order(shop),
        lines or [{"sku": "SCARF", "quantity": 2, "reason": "too_small"}],
    )
    act(shop.ops, rid, "authorize")
    return Return.objects.get(pk=rid)


def offered(html: str) -> list[str]:
    return re.findall(r'data-action="(\w+)"', html)


def selected_location(html: str) -> str:
    select = re.search(r'<select name="location".*?</select>', html, re.S)
    assert select, "no location to choose"
    chosen = re.search(r'<option value="([^"]*)"[^>]*selected', select.group(0))
    return chosen.group(1) if chosen else ""


@pytest.mark.parametrize("typed", ["abc", "1e3", "2.5", "-1", "99999999999999999999"])
def test_a_quantity_that_is_not_a_whole_number_is_a_form_error_not_a_500(shop, typed):
    ret = authorized(shop)
    line = ret.lines.get()
    page = browser_for(shop.ops)

    response = page.post(
        f"/returns/{ret.pk}/receive", {"location": "WH1", f"quantity-{line.pk}": typed}
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(
        r"Enter a whole number|greater than or equal to 0|less than or equal to 2", html
    ), html
    line.refresh_from_db()
    assert (line.received, Return.objects.get(pk=ret.pk).status) == (0, "authorized")


def test_an_inspection_count_that_is_not_a_whole_number_is_a_form_error(shop):
    ret = authorized(shop)
    act(shop.ops, ret.pk, "receive", {"location": "WH1"})
    line = ret.lines.get()

    response = browser_for(shop.ops).post(
        f"/returns/{ret.pk}/inspect", {f"restock-{line.pk}": "abc", f"damaged-{line.pk}": "1e3"}
    )

    assert response.status_code == 400
    assert response.content.decode().count("Enter a whole number.") == 2
    assert stock("SCARF", "WH1") == (2, 0, 2)


def test_receiving_with_empty_quantities_books_nothing_anywhere(shop):
    location_upsert(code="AA-UK-3PL", kind="3pl")  # first in the alphabet
    ret = authorized(shop)
    line = ret.lines.get()
    page = browser_for(shop.ops)

    response = page.post(
        f"/returns/{ret.pk}/receive", {"location": "AA-UK-3PL", f"quantity-{line.pk}": ""}
    )

    assert response.status_code == 400
    assert "Nothing to receive: enter how many units of each line arrived." in (
        response.content.decode()
    )
    line.refresh_from_db()
    assert line.received == 0


def test_the_receive_form_starts_where_the_order_shipped_from_and_shows_what_comes_back(shop):
    location_upsert(code="AA-UK-3PL", kind="3pl")
    ret = authorized(shop)

    html = browser_for(shop.ops).get(f"/returns/{ret.pk}/receive").content.decode()

    assert selected_location(html) == "WH1"  # shipped from WH1, not the first in the alphabet
    row = re.search(r'<tr data-sku="SCARF">(.*?)</tr>', html, re.S)
    assert row, html
    assert re.search(r'name="quantity-\d+"[^>]*value="2"', row.group(1))


def test_the_receive_form_starts_at_the_users_store_then_the_fulfilment_location(shop):
    ret = authorized(shop)
    Order.objects.filter(pk=ret.order_id).update(fulfilment_location="STORE1")
    assert (
        selected_location(browser_for(shop.ops).get(f"/returns/{ret.pk}/receive").content.decode())
        == "STORE1"
    )

    location_upsert(code="STORE2", kind="store")
    ReturnDesk.objects.create(user=shop.ops.user, location=Location.objects.get(code="STORE2"))
    assert (
        selected_location(browser_for(shop.ops).get(f"/returns/{ret.pk}/receive").content.decode())
        == "STORE2"
    )


def test_the_receive_form_needs_a_location_when_it_cannot_guess_one(shop):
    ret = authorized(shop)
    Order.objects.filter(pk=ret.order_id).update(fulfilment_location="")
    line = ret.lines.get()
    ret.order.shipments.all().update(location="GONE")
    page = browser_for(shop.ops)
    assert selected_location(page.get(f"/returns/{ret.pk}/receive").content.decode()) == ""

    response = page.post(f"/returns/{ret.pk}/receive", {f"quantity-{line.pk}": "1"})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_the_return_page_shows_where_each_line_was_received(shop):
    ret = authorized(shop)
    line = ret.lines.get()
    page = browser_for(shop.ops)
    for where in ("WH1", "STORE1"):
        response = page.post(
            f"/returns/{ret.pk}/receive", {"location": where, f"quantity-{line.pk}": "1"}
        )
        assert response.status_code == 302

    html = page.get(f"/returns/{ret.pk}/").content.decode()

    assert re.search(r'<td class="received-at">\s*1 at WH1, 1 at STORE1\s*</td>', html), html


@pytest.mark.parametrize(
    ("steps", "ops", "finance"),
    [
        ([], ["authorize", "reject", "cancel"], ["authorize", "reject", "cancel"]),
        (["authorize"], ["receive", "reject", "cancel"], ["reject", "cancel"]),
        (["authorize", "receive"], ["inspect"], []),
        (["authorize", "receive", "inspect"], [], ["refund"]),
        (["authorize", "receive", "inspect", "refund"], [], ["close"]),
        (["authorize", "receive", "inspect", "refund", "close"], [], []),
        (["reject"], [], []),
    ],
)
def test_only_the_transitions_the_status_allows_are_offered(shop, steps, ops, finance):
    rid = open_return(
        shop, shipped_order(shop), [{"sku": "SCARF", "quantity": 1, "reason": "too_small"}]
    )
    bodies = {
        "receive": {"location": "WH1"},
        "inspect": {"lines": [{"sku": "SCARF", "quantity": 1, "disposition": "restock"}]},
        "reject": {"note": "worn"},
    }
    for step in steps:
        client = shop.finance if step in ("refund", "close") else shop.ops
        act(client, rid, step, bodies.get(step))

    assert offered(browser_for(shop.ops).get(f"/returns/{rid}/").content.decode()) == ops
    assert offered(browser_for(shop.finance).get(f"/returns/{rid}/").content.decode()) == finance


def test_a_transition_the_status_does_not_allow_is_refused_on_the_page_too(shop):
    ret = authorized(shop)
    page = browser_for(shop.finance)

    response = page.post(f"/returns/{ret.pk}/close", follow=True)

    assert "a authorized return cannot be closed" in response.content.decode()
    assert Return.objects.get(pk=ret.pk).status == "authorized"


@pytest.mark.parametrize("action", ["reject", "cancel"])
def test_rejecting_or_cancelling_on_the_page_needs_a_note(shop, action):
    ret = authorized(shop)
    page = browser_for(shop.ops)

    refused = page.post(f"/returns/{ret.pk}/{action}", {"note": "  "})

    assert refused.status_code == 400
    assert "Say why: the note is required." in refused.content.decode()
    assert Return.objects.get(pk=ret.pk).status == "authorized"
    done = page.post(f"/returns/{ret.pk}/{action}", {"note": "customer changed their mind"})
    assert done.status_code == 302
    assert Return.objects.get(pk=ret.pk).transitions.order_by("pk").last().note == (
        "customer changed their mind"
    )


def test_finance_sees_the_quote_before_approving_and_confirms_it(shop):
    rid = inspected(
        shop, shipped_order(shop), [{"sku": "SCARF", "quantity": 1, "reason": "too_small"}]
    )
    ret = Return.objects.get(pk=rid)
    page = browser_for(shop.finance)

    detail = page.get(f"/returns/{ret.pk}/").content.decode()
    assert re.search(r'id="refund-amount"[^>]*>19\.17 USD<', detail), detail  # not 0.00
    quote = page.get(f"/returns/{ret.pk}/refund").content.decode()
    # Price 20.00, discount share 2.33, goods 17.67, NY 1.06, NY-Kings 0.44, no shipping.
    row = re.search(r'<tr data-sku="SCARF">(.*?)</tr>', quote, re.S)
    assert row, quote
    cells = [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]
    assert cells == ["SCARF", "1", "20.00", "2.33", "17.67", "1.06", "0.44", "0.00", "19.17"]
    assert "Confirm refund of 19.17 USD" in quote
    assert Return.objects.get(pk=ret.pk).status == "inspected"  # looking changes nothing

    done = page.post(
        f"/returns/{ret.pk}/refund", {"method": "original", "expected_amount": "19.17"}, follow=True
    )

    assert "Refunded 19.17 USD" in done.content.decode()
    refunded = Return.objects.get(pk=ret.pk)
    assert (refunded.status, str(refunded.refund_amount)) == ("refunded", "19.1700")


def test_a_confirmation_of_figures_that_changed_shows_the_new_quote_instead(shop):
    order_id = shipped_order(shop)
    rids = [
        inspected(shop, order_id, [{"sku": sku, "quantity": n, "reason": "too_small"}])
        for sku, n in (("JACKET", 2), ("SCARF", 3))
    ]
    act(shop.finance, rids[0], "refund")
    page = browser_for(shop.finance)

    response = page.post(
        f"/returns/{rids[1]}/refund", {"method": "original", "expected_amount": "57.51"}
    )

    assert response.status_code == 409
    html = response.content.decode()
    assert "the refund is now 68.36 USD, not the 57.51 USD shown" in html
    assert "Confirm refund of 68.36 USD" in html
    assert Return.objects.get(pk=rids[1]).status == "inspected"
