"""Two things bench/settlements.py ran into: an upload handed to the worker before its request
committed (the worker did not find it, and the upload stayed `queued`), and the amount-and-date
rule pairing lines of unknown orders with every open expectation of the same amount.

stripe_orders (conftest): #1001 70.21 (ch_A1001), #1002 100.00, #1003 50.00 split; Stripe's fee
2.9 % + 0.30.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from settlements.loading import upload_create, upload_process
from settlements.models import ExpectedSettlement, SettlementLine, Upload

from .conftest import FILES

pytestmark = pytest.mark.django_db

HEADER = (
    "automatic_payout_id,balance_transaction_id,created_utc,currency,gross,fee,net,"
    "reporting_category,charge_id,payment_metadata[order_id]\n"
)


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path  # stored uploads out of the working tree


def test_an_upload_goes_to_the_worker_only_once_its_request_has_committed(
    stripe_orders: Any, staff: Any, django_capture_on_commit_callbacks: Any
) -> None:
    finance = staff("finance")
    with (
        (FILES / "flows/stripe_po_first.csv").open("rb") as f,
        django_capture_on_commit_callbacks(execute=False) as after_commit,
    ):
        answer = finance.post(
            "/api/v1/settlements/uploads", {"file": f, "provider": "stripe"}, format="multipart"
        )
    assert answer.status_code == 202
    assert answer.json()["status"] == "queued"
    assert Upload.objects.get().status == Upload.Status.QUEUED  # nothing ran in the request
    for callback in after_commit:
        callback()  # the commit: the task is published (and, in tests, runs at once)
    done = Upload.objects.get()
    assert done.status == Upload.Status.DONE
    assert (done.counts["lines"], done.counts["matched"], done.counts["unmatched"]) == (4, 3, 1)


@pytest.mark.parametrize(
    ("charge_id", "order_ref"),
    [("ch_Z9999", ""), ("", "#9999")],
    ids=["unknown payment", "unknown order"],
)
def test_a_line_naming_an_unknown_order_or_payment_is_no_order_not_a_guess_by_amount(
    stripe_orders: Any, tmp_path: Path, charge_id: str, order_ref: str
) -> None:
    # 70.21 on the day #1001 is due: the only open expectation of that amount.
    path = tmp_path / "po_GUESS.csv"
    row = f"po_GUESS,txn_G1,2026-11-20 19:10:00,usd,70.21,2.34,67.87,charge,{charge_id},{order_ref}"
    path.write_text(f"{HEADER}{row}\n")
    with path.open("rb") as stream:
        made = upload_create(
            stream=stream,
            name=path.name,
            provider="stripe",
            channel=None,
            user=None,
            now=timezone.now(),
        )
    done = upload_process(made.pk)
    assert done.status == Upload.Status.DONE, done.errors
    line = SettlementLine.objects.get(line_key="txn_G1")
    assert (line.outcome, line.reason, line.order_id) == ("unmatched", "no_order", None)
    assert ExpectedSettlement.objects.get(payment_ref="ch_A1001").status == "open"


def test_an_unreferenced_charge_is_still_matched_by_amount_and_date(
    stripe_orders: Any, tmp_path: Path
) -> None:
    path = tmp_path / "po_PLAIN.csv"
    path.write_text(HEADER + "po_PLAIN,txn_P1,2026-11-20 19:10:00,usd,70.21,2.34,67.87,charge,,\n")
    with path.open("rb") as stream:
        made = upload_create(
            stream=stream,
            name=path.name,
            provider="stripe",
            channel=None,
            user=None,
            now=timezone.now(),
        )
    assert upload_process(made.pk).status == Upload.Status.DONE
    line = SettlementLine.objects.get(line_key="txn_P1")
    assert (line.outcome, line.rule, line.order.order_number) == ("matched", "amount_date", "#1001")
    assert ExpectedSettlement.objects.get(payment_ref="ch_A1001").status == "settled"
