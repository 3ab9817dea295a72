"""One line's page: the orders it might be, ranked, and what finance decides there (match,
unmatch, write off); a batch's re-run and undo buttons; the order page's Settlement section."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from orders.models import Order
from retailsync.core.models import AuditRecord
from settlements.candidates import line_candidates
from settlements.models import ExpectedSettlement, SettlementLine
from tests.orders.payloads import canonical_order
from tests.settlements.pages import L, batch_make, cells, client_for, row_of, text

pytestmark = pytest.mark.django_db
POSTED = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


@pytest.fixture
def orders(channel, django_capture_on_commit_callbacks):
    """Orders of the channel `web` around the line's date (2026-11-21 10:00 UTC): each the
    canonical 70.21 USD order, placed 2026-11-20 19:03 UTC unless moved."""

    def post(external_id: str, number: str, **changes) -> Order:
        with django_capture_on_commit_callbacks(execute=True):
            response = channel.post_order(
                canonical_order(
                    external_id=external_id,
                    order_number=number,
                    payments=[
                        {"gateway": "stripe", "reference": f"ch_{external_id}", "amount": "70.21"}
                    ],
                    **changes,
                )
            )
        assert response.status_code == 201, response.json()
        return Order.objects.get(pk=response.json()["id"])

    made = {
        "near": post("WEB-1001", "#1001"),  # 0.6 days before the line
        "later": post("WEB-1002", "#1002", placed_at="2026-11-25T14:03:00-05:00"),  # 4.4 after
        "off": post("WEB-1003", "#1003"),
        "euro": post("WEB-1004", "#1004", currency="EUR"),
        "old": post("WEB-1005", "#1005", placed_at="2026-11-01T14:03:00-05:00"),  # 19.6 before
    }
    # 71.00 instead of 70.21, both as its total and as what is expected of it: 0.79 off.
    Order.objects.filter(pk=made["off"].pk).update(total=Decimal("71.00"))
    ExpectedSettlement.objects.filter(order=made["off"]).update(gross=Decimal("71.00"))
    return made


def unknown_charge(orders, **changes):
    """A 70.21 charge whose reference the rules cannot place (fee 2.34: net 67.87)."""
    line = dict(payment_ref="ch_unknown", posted_at=POSTED) | changes
    batch = batch_make(
        "po_web", [L("charge", "70.21", "-2.34", **line)], channel=orders["near"].channel
    )
    return batch.lines.select_related("batch").get()


def test_candidates_rank_the_nearest_amount_then_the_nearest_date(
    orders, make_channel, django_capture_on_commit_callbacks
):
    line = unknown_charge(orders)
    other = make_channel("canonical", code="other-shop")
    with django_capture_on_commit_callbacks(execute=True):
        assert other.post_order(canonical_order(external_id="OTHER-1")).status_code == 201

    ranked = line_candidates(line)

    # Not offered: EUR (another currency), placed 19.6 days before (outside 14), nor another
    # channel's orders.
    assert [c.order.pk for c in ranked] == [orders["near"].pk, orders["later"].pk, orders["off"].pk]
    near, later, off = ranked
    assert (near.difference, near.days_apart, near.amount, near.amount_is_expected) == (
        Decimal("0.0000"),
        Decimal("0.6"),  # 2026-11-20 19:03 to 2026-11-21 10:00 is 14 h 57 min
        Decimal("70.2100"),
        True,
    )
    assert (later.difference, later.days_apart) == (Decimal("0.0000"), Decimal("4.4"))
    assert off.difference == Decimal("0.7900")


def test_a_refund_line_is_nearest_the_refund_expected_not_the_order_total(orders):
    ExpectedSettlement.objects.create(
        order=orders["off"],
        kind="refund",
        source="test:refund",
        currency="USD",
        gross=Decimal("-20.00"),
        expected_on=POSTED.date(),
    )
    line = unknown_charge(orders)
    SettlementLine.objects.filter(pk=line.pk).update(kind="refund", gross=Decimal("-20.00"))
    line.refresh_from_db()

    best = line_candidates(line)[0]

    assert (best.order.pk, best.amount, best.difference) == (
        orders["off"].pk,
        Decimal("-20.0000"),
        Decimal("0.0000"),
    )


def test_among_equal_amounts_and_dates_the_most_alike_reference_comes_first(orders):
    Order.objects.filter(pk=orders["later"].pk).update(placed_at=orders["near"].placed_at)
    line = unknown_charge(orders, payment_ref="", order_ref="1002")

    ranked = line_candidates(line)

    assert [c.order.pk for c in ranked[:2]] == [orders["later"].pk, orders["near"].pk]
    assert ranked[0].similarity == Decimal("1.0")  # "#1002" less its "#"


def test_finding_candidates_costs_the_same_queries_for_many_orders(
    orders, channel, django_assert_num_queries, django_capture_on_commit_callbacks
):
    line = unknown_charge(orders)
    with django_assert_num_queries(2):  # the ranked orders, their payment references
        few = line_candidates(line)
    for n in range(6):
        with django_capture_on_commit_callbacks(execute=True):
            channel.post_order(canonical_order(external_id=f"MORE-{n}", order_number=f"#M{n}"))
    with django_assert_num_queries(2):
        many = line_candidates(line)
    assert len(many) == len(few) + 6


def test_finance_matches_an_unmatched_line_to_a_candidate_with_one_click(orders):
    line = unknown_charge(orders)
    finance = client_for("finance")
    page = finance.get(f"/settlements/lines/{line.pk}/").content.decode()
    assert '<pre id="raw">po_web,charge,70.21,-2.34</pre>' in page
    first = row_of(page, "data-order", orders["near"].pk)
    assert cells(first)[:8] == [
        "#1001",
        "web",
        "2026-11-20 19:03",
        "70.21",
        "70.21 expected",
        "0.00",
        "0.6",
        # "ch_unknown" against "ch_web-1001": "ch_" and "w" alike, 2 × 4 of 21 characters.
        "38%",
    ]

    response = finance.post(
        f"/settlements/lines/{line.pk}/match", {"order": orders["near"].pk}, follow=True
    )

    line.refresh_from_db()
    assert (line.outcome, line.order_id, line.rule, line.manual) == (
        "matched",
        orders["near"].pk,
        "manual",
        True,
    )
    shown = response.content.decode()
    assert 'id="outcome" data-outcome="matched"' in shown
    assert "line 2 of Stripe po_web (67.87 USD) matched to order #1001." in text(shown)
    record = AuditRecord.objects.get(path=f"/settlements/lines/{line.pk}/match")
    assert record.outcome == "line 2 of Stripe po_web (67.87 USD) matched to order #1001."
    assert 'id="candidates"' not in shown  # matched: nothing more to offer


def test_a_match_to_an_order_that_does_not_exist_changes_nothing(orders):
    line = unknown_charge(orders)

    response = client_for("finance").post(
        f"/settlements/lines/{line.pk}/match", {"order": 999_999}, follow=True
    )

    assert "Order 999999 does not exist." in response.content.decode()
    line.refresh_from_db()
    assert (line.outcome, line.order_id, line.manual) == ("unmatched", None, False)


def test_a_write_off_needs_a_reason_and_then_takes_the_line_off_the_list(orders):
    line = unknown_charge(orders)
    finance = client_for("finance")

    refused = finance.post(f"/settlements/lines/{line.pk}/write-off", {"reason": "   "})
    assert refused.status_code == 400
    assert "Say why the line is written off." in refused.content.decode()
    line.refresh_from_db()
    assert line.outcome == "unmatched"

    finance.post(f"/settlements/lines/{line.pk}/write-off", {"reason": "test charge by support"})
    line.refresh_from_db()
    assert (line.outcome, line.manual) == ("written_off", True)
    assert line.note == "test charge by support (finance-pages)"
    page = finance.get(f"/settlements/{line.batch_id}/?outcome=unmatched").content.decode()
    assert "<tr data-line=" not in page


def test_unmatching_a_line_puts_it_back_with_a_note(orders):
    line = unknown_charge(orders)
    finance = client_for("finance")
    finance.post(f"/settlements/lines/{line.pk}/match", {"order": orders["off"].pk})

    finance.post(f"/settlements/lines/{line.pk}/unmatch", {"note": "wrong order"})

    line.refresh_from_db()
    assert (line.outcome, line.order_id, line.note) == (
        "unmatched",
        None,
        "wrong order (finance-pages)",
    )


def test_the_batch_buttons_run_the_rules_again_and_undo_them(orders):
    line = unknown_charge(orders, payment_ref="ch_WEB-1001")
    batch = line.batch
    finance = client_for("finance")

    finance.post(f"/settlements/{batch.pk}/match")
    line.refresh_from_db()
    assert (line.outcome, line.order_id, line.rule) == ("matched", orders["near"].pk, "payment_ref")
    page = finance.get(f"/settlements/{batch.pk}/").content.decode()
    runs = re.search(r'id="runs".*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    assert "matched 1" in text(runs) and "finance-pages" in runs

    response = finance.post(f"/settlements/{batch.pk}/undo", follow=True)
    line.refresh_from_db()
    assert (line.outcome, line.order_id, line.rule) == ("unmatched", None, "")
    assert "matching undone, 1 line(s) back to unmatched. 0 of 1 lines matched" in text(
        response.content.decode()
    )
    assert finance.get(f"/settlements/{batch.pk}/match").status_code == 405


def test_the_order_page_shows_what_settled_the_order_to_finance(orders):
    line = unknown_charge(orders, payment_ref="ch_WEB-1001")
    finance = client_for("finance")
    finance.post(f"/settlements/{line.batch_id}/match")
    order = orders["near"]

    page = finance.get(f"/orders/{order.pk}/").content.decode()

    section = page[
        page.index('<section id="settlement"') : page.index(
            "</section>", page.index('<section id="settlement"')
        )
    ]
    assert 'id="settlement-status">settled<' in section
    # Expected 70.21 (the captured payment); settled 70.21 gross with its 2.34 fee: no variance.
    assert re.findall(r'data-figure="(\w+)"[^>]*>([^<]*)<', section) == [
        ("expected", "70.21"),
        ("settled", "70.21"),
        ("fees", "-2.34"),
        ("variance", "0.00"),
    ]
    assert f'href="/settlements/{line.batch_id}/">Stripe po_web</a>' in section
    assert "67.87 USD" in text(section)


def test_an_order_with_nothing_to_settle_says_so_and_operations_see_no_section(orders, channel):
    paid = orders["near"]
    finance, ops = client_for("finance"), client_for("operations")

    assert 'id="settlement-status">expected<' in finance.get(f"/orders/{paid.pk}/").content.decode()
    assert '<section id="settlement"' not in ops.get(f"/orders/{paid.pk}/").content.decode()
    ExpectedSettlement.objects.filter(order=paid).delete()
    assert (
        'id="settlement-status">not expected<'
        in finance.get(f"/orders/{paid.pk}/").content.decode()
    )


def test_a_bank_line_offers_no_orders(db):
    batch = batch_make("stmt-1", [L("deposit", "76.80")], provider="camt053")
    batch.is_statement = True
    batch.save(update_fields=["is_statement"])
    line = batch.lines.get()

    page = client_for("finance").get(f"/settlements/lines/{line.pk}/").content.decode()

    assert 'id="candidates"' not in page
    assert "A bank line is matched to payouts, not orders" in page
    assert line.posted_at is not None and line.posted_at - POSTED == timedelta(0)
