"""A Stripe payout matched end to end, by hand-worked figures.

po_FIRST: txn_A 70.21 − 2.34 (#1001: 2.9 % + 0.30 = 2.34, as scheduled), txn_B 100.00 − 3.50
(#1002: the schedule says 3.20, a 0.30 fee variance), txn_C1 30.00 − 1.17 (#1003 is split
30.00 + 20.00: the rest has not arrived), txn_Z 12.00 − 0.65 (#9999: no such order).
gross 212.21, fees −7.66, net 204.55 = the payout.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from retailsync.core.models import ExceptionItem
from settlements.models import ExpectedSettlement, SettlementBatch, SettlementLine, Upload

from .conftest import upload

pytestmark = pytest.mark.django_db


def lines(batch: SettlementBatch) -> dict[str, tuple[str, str]]:
    return {
        line.line_key: (line.outcome, line.reason)
        for line in SettlementLine.objects.filter(batch=batch)
    }


def open_exceptions() -> dict[str, str]:
    return dict(
        ExceptionItem.objects.filter(
            status="open",
            kind__in=[
                "fee_variance",
                "split_incomplete",
                "no_order",
                "duplicate",
                "chargeback",
                "amount_mismatch",
                "payout_variance",
            ],
        ).values_list("kind", "object_label")
    )


def test_expected_settlements_come_from_the_paid_orders(stripe_orders: Any) -> None:
    expected = {
        e.payment_ref: (e.gross, e.fee, e.provider, e.status)
        for e in ExpectedSettlement.objects.all()
    }
    assert expected == {
        "ch_A1001": (Decimal("70.21"), Decimal("-2.34"), "stripe", "open"),
        "ch_B1002": (Decimal("100.00"), Decimal("-3.20"), "stripe", "open"),
        "ch_C1003a": (Decimal("30.00"), Decimal("-1.17"), "stripe", "open"),
        "ch_C1003b": (Decimal("20.00"), Decimal("-0.88"), "stripe", "open"),
    }


def test_a_payout_is_matched_with_its_variances_queued(stripe_orders: Any) -> None:
    done = upload("flows/stripe_po_first.csv", "stripe")
    assert done.status == Upload.Status.DONE, done.errors
    batch = SettlementBatch.objects.get(provider="stripe", key="po_FIRST")
    assert (batch.gross, batch.fees, batch.net, batch.payout_amount, batch.variance) == (
        Decimal("212.21"),
        Decimal("-7.66"),
        Decimal("204.55"),
        Decimal("204.55"),
        Decimal("0"),
    )
    assert lines(batch) == {
        "txn_A": ("matched", ""),
        "txn_B": ("variance", "fee_variance"),
        "txn_C1": ("variance", "split_incomplete"),
        "txn_Z": ("unmatched", "no_order"),
    }
    assert (batch.matched, batch.unmatched, batch.lines_count) == (3, 1, 4)
    assert done.counts["matched"] == 3 and done.counts["unmatched"] == 1
    assert open_exceptions() == {
        "fee_variance": "#1002",
        "split_incomplete": "#1003",
        "no_order": "#9999",
    }
    settled = dict(ExpectedSettlement.objects.values_list("payment_ref", "status"))
    assert settled["ch_A1001"] == "settled" and settled["ch_B1002"] == "variance"


def test_orders_are_named_when_more_are_flagged_than_one_lookup_takes(
    stripe_orders: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A marketplace file flagged 200,000 orders: more ids than one statement takes (65,535
    parameters). The numbers people know them by are read a chunk at a time."""
    import settlements.matching as matching

    monkeypatch.setattr(matching, "_LABELS_CHUNK", 1)  # each flagged order its own chunk
    assert upload("flows/stripe_po_first.csv", "stripe").status == Upload.Status.DONE
    assert open_exceptions() == {
        "fee_variance": "#1002",
        "split_incomplete": "#1003",
        "no_order": "#9999",
    }


def test_the_same_file_again_adds_nothing_and_a_rerun_changes_nothing(stripe_orders: Any) -> None:
    first = upload("flows/stripe_po_first.csv", "stripe")
    again = upload("flows/stripe_po_first.csv", "stripe")
    assert again.status == "done" and again.batch_ids == first.batch_ids
    assert SettlementLine.objects.count() == 4
    batch = SettlementBatch.objects.get(pk=first.batch_ids[0])
    before = lines(batch)
    from django.utils import timezone

    from settlements.matching import batch_match

    batch_match(batch, now=timezone.now())
    assert lines(batch) == before
    assert ExceptionItem.objects.filter(status="open", kind="fee_variance").count() == 1


def test_the_rest_of_a_split_and_a_duplicate_and_a_chargeback_and_its_reversal(
    stripe_orders: Any,
) -> None:
    upload("flows/stripe_po_first.csv", "stripe")
    second = upload("flows/stripe_po_second.csv", "stripe")
    assert second.status == "done", second.errors
    first_batch = SettlementBatch.objects.get(key="po_FIRST")
    second_batch = SettlementBatch.objects.get(key="po_SECOND")
    assert lines(second_batch) == {
        "txn_C2": ("matched", ""),
        "txn_A_again": ("duplicate", "duplicate"),
        "txn_DP": ("matched", "chargeback"),
    }
    # The first batch saw the rest of #1003 arrive: its part is matched now, nothing waits.
    assert lines(first_batch)["txn_C1"] == ("matched", "")
    assert second_batch.net == Decimal("-28.01")  # 19.12 + 67.87 − 115.00
    assert second_batch.chargebacks == Decimal("-100.00")
    kinds = open_exceptions()
    assert "split_incomplete" not in kinds
    assert kinds["duplicate"] == "#1001" and kinds["chargeback"] == "#1002"

    third = upload("flows/stripe_po_third.csv", "stripe")
    assert third.status == "done", third.errors
    assert lines(SettlementBatch.objects.get(key="po_THIRD")) == {"txn_DPR": ("matched", "")}
    assert "chargeback" not in open_exceptions()


def test_a_person_s_match_survives_a_rerun_and_undo_keeps_it(
    stripe_orders: Any, staff: Any
) -> None:
    upload("flows/stripe_po_first.csv", "stripe")
    finance = staff("finance")
    line = SettlementLine.objects.get(line_key="txn_Z")
    order_id = SettlementLine.objects.get(line_key="txn_A").order_id
    answer = finance.post(
        f"/api/v1/settlements/lines/{line.pk}/match",
        {"order": order_id, "note": "customer paid twice"},
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    assert answer.json()["outcome"] == "matched" and answer.json()["manual"] is True
    batch_id = line.batch_id
    assert finance.post(f"/api/v1/settlements/batches/{batch_id}/match").status_code == 200
    assert finance.post(f"/api/v1/settlements/batches/{batch_id}/undo").status_code == 200
    batch = SettlementBatch.objects.get(pk=batch_id)
    assert lines(batch) == {
        "txn_A": ("unmatched", ""),
        "txn_B": ("unmatched", ""),
        "txn_C1": ("unmatched", ""),
        "txn_Z": ("matched", ""),
    }
    detail = finance.get(f"/api/v1/settlements/batches/{batch_id}").json()
    assert detail["matched"] == 1 and detail["unmatched"] == 3
    assert detail["net"] == "204.55" and detail["variance"] == "0.00"


def test_write_off_needs_a_reason_and_tells_the_journals(stripe_orders: Any, staff: Any) -> None:
    from retailsync.core.models import DomainEvent

    upload("flows/stripe_po_first.csv", "stripe")
    finance = staff("finance")
    line = SettlementLine.objects.get(line_key="txn_Z")
    refused = finance.post(f"/api/v1/settlements/lines/{line.pk}/write-off", {}, format="json")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "reason"
    done = finance.post(
        f"/api/v1/settlements/lines/{line.pk}/write-off",
        {"reason": "test charge by the shop owner"},
        format="json",
    )
    assert done.status_code == 200 and done.json()["outcome"] == "written_off"
    event = DomainEvent.objects.get(name="settlement.line_written_off")
    assert event.payload["amount"] == "11.3500" or Decimal(event.payload["amount"]) == Decimal(
        "11.35"
    )
    assert "no_order" not in open_exceptions()
