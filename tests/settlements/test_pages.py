"""Finance's settlement pages through Django's test client: who may see them, the figures to the
cent, the filters, and what the buttons do. Batches are made in the database (pages.py); the
upload through a real file runs in tests/browser/test_settlement_pages.py."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from django.test import Client

from retailsync.core.models import AuditRecord
from settlements.models import SettlementBatch, Upload
from tests.factories import ChannelFactory
from tests.settlements.pages import L, batch_make, cells, client_for, figures, row_of, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_payout():
    """formats.md's Stripe example: a 100.00 charge with a 3.20 fee, a 20.00 refund.
    gross 100.00, fees −3.20, refunds −20.00, net 96.80 − 20.00 = 76.80 = the payout."""
    web = ChannelFactory(code="web")
    return batch_make(
        "po_1PqR",
        [
            L("charge", "100.00", "-3.20", order_ref="#1001", outcome="matched"),
            L("refund", "-20.00", order_ref="#1001"),
        ],
        channel=web,
        period=(date(2026, 3, 4), date(2026, 3, 5)),
        deposit_date=date(2026, 3, 6),
    )


PAGES = ["/settlements/", "/settlements/upload/"]


def _pages(batch: SettlementBatch) -> list[str]:
    line = batch.lines.order_by("row").first()
    assert line is not None
    return [
        *PAGES,
        f"/settlements/{batch.pk}/",
        f"/settlements/lines/{line.pk}/",
        f"/settlements/uploads/{batch.upload_id}/",
    ]


@pytest.mark.parametrize(
    ("role", "status"), [("finance", 200), ("admin", 200), ("operations", 403)]
)
def test_only_finance_and_admin_see_the_settlement_pages(stripe_payout, role, status):
    client = client_for(role)

    for path in _pages(stripe_payout):
        response = client.get(path)
        assert response.status_code == status, path
        if status == 403:
            assert "this page is for finance or admin staff" in response.content.decode()


def test_someone_not_logged_in_is_sent_to_the_login_page(stripe_payout):
    for path in _pages(stripe_payout):
        response = Client().get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")


def test_operations_cannot_match_undo_or_write_off(stripe_payout):
    ops = client_for("operations")
    line = stripe_payout.lines.get(row=3)

    assert ops.post(f"/settlements/{stripe_payout.pk}/undo").status_code == 403
    assert ops.post(f"/settlements/{stripe_payout.pk}/match").status_code == 403
    assert ops.post(f"/settlements/lines/{line.pk}/write-off", {"reason": "x"}).status_code == 403
    line.refresh_from_db()
    assert (line.outcome, line.manual) == ("unmatched", False)


def test_the_navigation_offers_settlements_to_finance_not_to_operations(db):
    assert 'href="/settlements/"' in client_for("finance").get("/").content.decode()
    assert 'href="/settlements/"' in client_for("admin").get("/").content.decode()
    assert 'href="/settlements/"' not in client_for("operations").get("/").content.decode()


def test_the_batch_list_shows_each_batch_s_figures_to_the_cent(stripe_payout):
    page = client_for("finance").get("/settlements/").content.decode()
    row = row_of(page, "data-batch", stripe_payout.pk)

    assert cells(row)[:6] == [
        "Stripe",
        "po_1PqR",
        "web",
        "2026-03-04 – 2026-03-05",
        "2026-03-06",
        "USD",
    ]
    assert figures(row) == {
        "gross": "100.00",
        "fees": "-3.20",
        "refunds": "-20.00",
        "net": "76.80",
        "payout": "76.80",
        "variance": "0.00",
        "match-rate": "50.0% (1/2)",
        "identity": "✓ the payout equals its lines",
        # The deposit status is the last cell.
    }
    assert cells(row)[-1] == "pending"
    assert "<mark>" not in row


def test_a_payout_that_differs_from_its_lines_shows_its_variance_highlighted(db):
    # Lines 250.00 − 7.55 = 242.45; the provider says it paid 245.00: variance 2.55.
    batch = batch_make(
        "po_var", [L("charge", "250.00", "-7.55")], payout="245.00", deposit_status="missing"
    )
    row = row_of(
        client_for("finance").get("/settlements/").content.decode(), "data-batch", batch.pk
    )

    assert figures(row)["net"] == "242.45"
    assert figures(row)["variance"] == "2.55"
    assert "<mark>2.55</mark>" in row
    assert figures(row)["identity"] == "2.55"
    assert figures(row)["match-rate"] == "0.0% (0/1)"
    assert cells(row)[-1] == "missing"


def test_a_variance_under_half_a_cent_reads_as_zero_never_minus_zero(db):
    # 10.00 − 0.304 = 9.696 in lines; paid 9.692: variance −0.004, which rounds to 0.00.
    batch = batch_make("po_tiny", [L("charge", "10.00", "-0.304")], payout="9.692")
    assert batch.variance == Decimal("-0.0040")
    row = row_of(
        client_for("finance").get("/settlements/").content.decode(), "data-batch", batch.pk
    )

    assert figures(row)["variance"] == "0.00"
    assert "-0.00" not in row
    assert "<mark>" not in row
    assert figures(row)["identity"].startswith("✓")


def test_amounts_are_shown_in_the_currency_s_minor_unit(db):
    batch = batch_make(
        "yen-1", [L("charge", "12000", "-420"), L("charge", "3500", "-123")], currency="JPY"
    )
    row = row_of(
        client_for("finance").get("/settlements/").content.decode(), "data-batch", batch.pk
    )

    # 12,000 + 3,500 = 15,500 gross; fees 420 + 123 = 543; net 14,957.
    assert (figures(row)["gross"], figures(row)["fees"], figures(row)["net"]) == (
        "15,500",
        "-543",
        "14,957",
    )


def test_the_batch_list_filters_by_provider_channel_and_deposit_status(stripe_payout):
    amazon = batch_make(
        "amz-9", [L("charge", "5.00")], provider="amazon", channel=ChannelFactory(code="amzn")
    )
    missing = batch_make("po_gone", [L("charge", "1.00")], deposit_status="missing")
    finance = client_for("finance")

    def listed(query: str) -> set[int]:
        page = finance.get(f"/settlements/?{query}")
        assert page.status_code == 200
        return {int(pk) for pk in re.findall(r'<tr data-batch="(\d+)">', page.content.decode())}

    assert listed("") == {stripe_payout.pk, amazon.pk, missing.pk}
    assert listed("provider=amazon") == {amazon.pk}
    assert listed("channel=web") == {stripe_payout.pk}
    assert listed("deposit_status=missing") == {missing.pk}
    assert listed("provider=stripe&deposit_status=pending") == {stripe_payout.pk}
    assert listed("provider=bitcoin") == set()  # not a choice: nothing, and the form says so
    page = finance.get("/settlements/").content.decode()
    assert '<option value="amzn">amzn</option>' in page  # channels offered as choices
    assert '<option value="missing">Missing</option>' in page


def test_the_batch_list_is_paginated(db):
    for n in range(51):
        batch_make(f"po_{n:02}", [L("charge", "1.00")])
    finance = client_for("finance")

    first = finance.get("/settlements/").content.decode()
    second = finance.get("/settlements/?page=2").content.decode()

    assert first.count("<tr data-batch=") == 50
    assert second.count("<tr data-batch=") == 1
    assert "Page 1 of 2 (51)" in first


def test_a_batch_page_totals_its_lines_by_kind_and_outcome(stripe_payout):
    page = client_for("finance").get(f"/settlements/{stripe_payout.pk}/").content.decode()

    assert figures(page)["net"] == "76.80"
    assert figures(page)["identity"].startswith("✓")
    start = page.index('id="totals-by-kind"')
    by_kind = page[start : page.index("</table>", start)]
    assert cells(row_of(by_kind, "data-key", "charge")) == [
        "charge",
        "1",
        "100.00",
        "-3.20",
        "96.80",
    ]
    assert cells(row_of(by_kind, "data-key", "refund")) == [
        "refund",
        "1",
        "-20.00",
        "0.00",
        "-20.00",
    ]
    start = page.index('id="totals-by-outcome"')
    by_outcome = page[start : page.index("</table>", start)]
    assert cells(row_of(by_outcome, "data-key", "matched")) == [
        "matched",
        "1",
        "100.00",
        "-3.20",
        "96.80",
    ]
    assert cells(row_of(by_outcome, "data-key", "unmatched")) == [
        "unmatched",
        "1",
        "-20.00",
        "0.00",
        "-20.00",
    ]


def test_a_batch_s_lines_filter_by_outcome_and_kind(stripe_payout):
    finance = client_for("finance")
    matched, refund = stripe_payout.lines.order_by("row")

    def rows(query: str) -> set[int]:
        page = finance.get(f"/settlements/{stripe_payout.pk}/?{query}").content.decode()
        return {int(pk) for pk in re.findall(r'<tr data-line="(\d+)">', page)}

    assert rows("") == {matched.pk, refund.pk}
    assert rows("outcome=unmatched") == {refund.pk}
    assert rows("outcome=matched&kind=charge") == {matched.pk}
    assert rows("kind=fee") == set()
    assert rows("ref=%231001") == {matched.pk, refund.pk}

    page = finance.get(f"/settlements/{stripe_payout.pk}/?outcome=unmatched").content.decode()
    line = cells(row_of(page, "data-line", refund.pk))
    assert line == [
        "3",
        "refund",
        "#1001",
        "2026-11-21 10:00",
        "-20.00",
        "0.00",
        "-20.00",
        "unmatched",
        "",
        "find the order…",
    ]
    assert f'href="/settlements/lines/{refund.pk}/" data-find' in page


def test_an_upload_that_failed_shows_each_refused_row_and_why(db):
    upload = Upload.objects.create(
        provider="stripe",
        name="bad.csv",
        sha256="0" * 64,
        status="failed",
        errors=[{"row": 7, "reason": "the amount 'abc' is not a number"}],
    )
    page = client_for("finance").get(f"/settlements/uploads/{upload.pk}/").content.decode()

    assert cells(re.search(r'id="upload-errors".*?<tbody>(.*?)</tbody>', page, re.S).group(1)) == [
        "7",
        "the amount 'abc' is not a number",
    ]
    assert 'role="status" aria-live="polite" data-status="failed"' in page
    assert 'id="upload-refresh"' not in page


def test_an_upload_being_read_shows_its_progress_and_a_refresh_link_without_script(db):
    upload = Upload.objects.create(
        provider="stripe",
        name="big.csv",
        sha256="1" * 64,
        status="parsing",
        progress=40,
        rows=20000,
    )
    page = client_for("finance").get(f"/settlements/uploads/{upload.pk}/").content.decode()

    assert '<progress id="upload-progress" max="100" value="40">40%</progress>' in page
    assert '<label for="upload-progress">' in page
    assert "Reading the file: 20000 rows so far." in text(page)
    assert f'<a href="/settlements/uploads/{upload.pk}/">Refresh</a>' in page
    assert f'data-api="/api/v1/settlements/uploads/{upload.pk}"' in page


def test_a_finished_upload_links_to_the_batches_it_made(stripe_payout):
    upload = stripe_payout.upload
    Upload.objects.filter(pk=upload.pk).update(
        batch_ids=[stripe_payout.pk], rows=2, counts={"matched": 1, "unmatched": 1}
    )
    page = client_for("finance").get(f"/settlements/uploads/{upload.pk}/").content.decode()

    assert f'<a href="/settlements/{stripe_payout.pk}/">po_1PqR</a>' in page
    assert "Done: 2 rows read into 1 batch, 1 line matched, 1 unmatched." in text(page)
    assert '<progress id="upload-progress" max="100" value="100">' in page


def test_the_upload_form_labels_every_field_and_refuses_what_it_cannot_take(db, settings):
    ChannelFactory(code="web")
    finance = client_for("finance")
    page = finance.get("/settlements/upload/").content.decode()
    for name in ("file", "provider", "channel"):
        assert f'<label for="id_{name}">' in page
        assert f'id="id_{name}"' in page
    assert '<option value="web">web</option>' in page

    from django.core.files.uploadedfile import SimpleUploadedFile

    def post(**data):
        return finance.post(
            "/settlements/upload/",
            {"file": SimpleUploadedFile("p.csv", b"a,b\n1,2\n"), **data},
        )

    missing = post()
    assert missing.status_code == 400
    assert 'aria-invalid="true"' in missing.content.decode()
    bank = post(provider="camt053", channel="web")
    assert bank.status_code == 400
    assert "A bank statement belongs to no channel" in bank.content.decode()
    settings.SETTLEMENT_UPLOAD_MAX_BYTES = 4
    assert post(provider="stripe").status_code == 413
    assert Upload.objects.count() == 0
    assert AuditRecord.objects.filter(path="/settlements/upload/", status_code=413).exists()
