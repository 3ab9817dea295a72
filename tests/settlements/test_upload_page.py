"""A Stripe payout report uploaded through the page (tasks run in the process, after the
request's commit): the status page it leads to, the same file again, a file refused."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from retailsync.core.models import AuditRecord
from settlements.models import SettlementBatch, Upload
from tests.settlements.pages import client_for, text

pytestmark = pytest.mark.django_db

HEADER = (
    "automatic_payout_id,automatic_payout_effective_at,balance_transaction_id,created_utc,"
    "available_on_utc,currency,gross,fee,net,reporting_category,source_id,charge_id\n"
)
# formats.md §4's example: 100.00 − 3.20 = 96.80 in, 20.00 back: the payout nets 76.80.
PAYOUT = HEADER + (
    "po_1PqR,2024-03-06 00:00:00,txn_3AbC,2024-03-04 15:22:10,2024-03-06 00:00:00,usd,100.00,"
    "3.20,96.80,charge,ch_3AbC,ch_3AbC\n"
    "po_1PqR,2024-03-06 00:00:00,txn_3DeF,2024-03-05 09:01:44,2024-03-05 09:01:44,usd,-20.00,"
    "0.00,-20.00,refund,re_3DeF,ch_3AbC\n"
)


@pytest.fixture
def finance(settings, tmp_path, channel):
    settings.MEDIA_ROOT = tmp_path
    return client_for("finance")


def upload(finance, content: str, captured, name: str = "po_1PqR.csv") -> str:
    with captured(execute=True):
        response = finance.post(
            "/settlements/upload/",
            {
                "file": SimpleUploadedFile(name, content.encode()),
                "provider": "stripe",
                "channel": "web",
            },
        )
    assert response.status_code == 302, response.content.decode()
    return response["Location"]


def test_a_payout_uploaded_from_the_page_is_read_and_its_batch_linked(
    finance, django_capture_on_commit_callbacks
):
    status_page = upload(finance, PAYOUT, django_capture_on_commit_callbacks)

    made = Upload.objects.get()
    assert status_page == f"/settlements/uploads/{made.pk}/"
    assert (made.status, made.progress, made.channel.code) == ("done", 100, "web")
    batch = SettlementBatch.objects.get()
    assert (batch.key, batch.net, batch.payout_amount, batch.variance) == (
        "po_1PqR",
        Decimal("76.80"),
        Decimal("76.80"),
        Decimal("0"),
    )
    page = finance.get(status_page).content.decode()
    assert f'<a href="/settlements/{batch.pk}/">po_1PqR</a>' in page
    assert "Done: 2 rows read into 1 batch, 0 lines matched, 2 unmatched." in text(page)
    assert 'id="upload-refresh"' not in page
    record = AuditRecord.objects.get(path="/settlements/upload/")
    assert record.outcome.startswith(f"settlement upload {made.pk}: po_1PqR.csv (stripe)")


def test_the_same_file_again_adds_nothing_and_says_so(finance, django_capture_on_commit_callbacks):
    first = upload(finance, PAYOUT, django_capture_on_commit_callbacks)
    again = upload(finance, PAYOUT, django_capture_on_commit_callbacks, name="again.csv")

    assert again != first
    assert SettlementBatch.objects.count() == 1
    page = finance.get(again).content.decode()
    assert (
        f'Done: the same file was read already (upload <a href="{first}">'
        f"{first.split('/')[-2]}</a>); nothing was added."
    ) in page


def test_a_file_that_does_not_read_is_refused_whole_with_the_row_and_why(
    finance, django_capture_on_commit_callbacks
):
    broken = PAYOUT.replace(",-20.00,0.00,", ",-2O.00,0.00,")  # a letter O in the amount

    status_page = upload(finance, broken, django_capture_on_commit_callbacks)

    assert Upload.objects.get().status == "failed"
    assert SettlementBatch.objects.count() == 0
    page = finance.get(status_page).content.decode()
    errors = re.search(r'id="upload-errors".*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    row, reason = re.findall(r"<td[^>]*>(.*?)</td>", errors)
    assert row == "3"  # the refund's line in the file
    assert "2O.00" in reason
    assert "Failed: the file was refused and nothing of it was kept." in text(page)
