"""Uploads as finance makes them: through the API, followed to done on a real worker; refused
files leave nothing, even past the first chunks; overlapping files add each line once."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from retailsync.core.models import ExceptionItem
from settlements.loading import upload_create
from settlements.models import SettlementBatch, SettlementLine, Upload
from settlements.tasks import uploads_resume_task
from tests.conftest import wait_for

from .conftest import FILES

HEADER = (FILES / "flows/stripe_po_first.csv").read_text().splitlines()[0]


def stripe_rows(payout: str, first: int, count: int, *, bad_at: int | None = None) -> str:
    rows = [HEADER]
    for n in range(first, first + count):
        gross = "oops" if n == bad_at else "10.00"
        rows.append(
            f"{payout},2026-11-24 00:00:00,txn_{n},2026-11-20 10:00:00,2026-11-24 00:00:00,usd,"
            f"{gross},0.59,9.41,charge,ch_{n},10.00,usd,ch_{n},pi_{n},#X{n}"
        )
    return "\n".join(rows) + "\n"


def read_through(channel: Any, text: str, provider: str = "stripe") -> Upload:
    """A file stored and read, kept and matched as the worker does (or refused)."""
    from settlements.loading import upload_process

    made = upload_create(
        stream=io.BytesIO(text.encode()),
        name="report.csv",
        provider=provider,
        channel=channel.channel,
        user=None,
        now=timezone.now(),
    )
    return upload_process(made.pk)


def processed(channel: Any, text: str) -> Upload:
    """A Stripe file stored and read, kept and matched as the worker does; done."""
    done = read_through(channel, text)
    assert done.status == "done", done.errors
    return done


def post(client: Any, text: str | bytes, provider: str = "stripe", **extra: str) -> Any:
    body = text.encode() if isinstance(text, str) else text
    data = {"file": io.BytesIO(body), "provider": provider, **extra}
    data["file"].name = "report.csv"  # type: ignore[attr-defined]
    return client.post("/api/v1/settlements/uploads", data, format="multipart")


@pytest.mark.django_db
def test_finance_uploads_and_follows_it_to_done(
    staff: Any, stripe_orders: Any, django_capture_on_commit_callbacks: Any
) -> None:
    finance = staff("finance")
    with django_capture_on_commit_callbacks(execute=True):
        answer = post(finance, (FILES / "flows/stripe_po_first.csv").read_bytes())
    assert answer.status_code == 202, answer.json()
    body = answer.json()
    assert set(body) >= {"id", "status", "progress"}
    followed = finance.get(f"/api/v1/settlements/uploads/{body['id']}").json()
    assert (followed["status"], followed["progress"]) == ("done", 100)
    assert followed["counts"]["matched"] == 3 and followed["counts"]["unmatched"] == 1
    batch = finance.get(f"/api/v1/settlements/batches/{followed['batches'][0]}").json()
    assert (batch["gross"], batch["fees"], batch["net"], batch["payout_amount"]) == (
        "212.21",
        "-7.66",
        "204.55",
        "204.55",
    )
    assert (batch["variance"], batch["deposit_status"], batch["deposited_on"]) == (
        "0.00",
        "pending",
        None,
    )
    lines = finance.get(f"/api/v1/settlements/batches/{batch['id']}/lines?outcome=unmatched").json()
    assert [ln["line_key"] for ln in lines["results"]] == ["txn_Z"]
    # What a batch and a line answer is what the OpenAPI schema declares, no more, no less.
    schemas = finance.get("/api/schema/?format=json").json()["components"]["schemas"]
    for body, name in ((batch, "BatchOutput"), (lines["results"][0], "LineOutput")):
        declared = schemas[name]
        assert set(declared["required"]) <= set(body) <= set(declared["properties"]), name
    assert batch["match_rate"] == "0.7500"  # 3 of its 4 lines
    for missing in (batch["id"] + 1000, 3726481700936829037415424327680):  # past any bigint
        answer = finance.get(f"/api/v1/settlements/batches/{missing}/lines")
        assert answer.status_code == 404, answer.content
        assert answer.json()["errors"][0]["message"].startswith("settlement batch")


@pytest.mark.django_db
def test_who_may_upload_and_what_is_refused(
    staff: Any, channel: Any, django_capture_on_commit_callbacks: Any
) -> None:
    assert post(staff("operations"), "x").status_code == 403
    finance = staff("finance")
    unknown = post(finance, "x", provider="stripe", colour="red")
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "colour"
    wrong = post(finance, "x", provider="visa")
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["field"] == "provider"
    nochannel = post(finance, "x", channel="nope")
    assert nochannel.status_code == 422 and nochannel.json()["errors"][0]["field"] == "channel"
    bank = post(finance, "x", provider="camt053", channel=channel.channel.code)  # API.md: none
    assert bank.status_code == 400 and bank.json()["errors"][0]["field"] == "channel"
    with django_capture_on_commit_callbacks(execute=True):
        garbage = post(finance, b"\x00\xff\xfe garbage")
    assert garbage.status_code == 202
    followed = finance.get(f"/api/v1/settlements/uploads/{garbage.json()['id']}").json()
    assert followed["status"] == "failed" and followed["errors"][0]["reason"]


@pytest.mark.django_db
def test_a_bad_row_after_many_good_ones_leaves_nothing(channel: Any) -> None:
    # 45,000 rows staged a tenth of the file at a time: nine parts are staged before the part
    # with the bad row is read.
    text = stripe_rows("po_BIG", 1, 45_000, bad_at=44_000)
    failed = read_through(channel, text)
    assert failed.status == "failed"
    assert failed.errors[0]["row"] == 44_001  # the header is row 1
    assert "oops" in failed.errors[0]["reason"]
    assert SettlementLine.objects.count() == 0 and SettlementBatch.objects.count() == 0


@pytest.mark.django_db
def test_overlapping_files_add_each_line_once(channel: Any) -> None:
    processed(channel, stripe_rows("po_OVER", 1, 30))
    done = processed(channel, stripe_rows("po_OVER", 21, 30))  # rows 21-30 again, 31-50 new
    assert done.counts["new_lines"] == 20
    batch = SettlementBatch.objects.get(key="po_OVER")
    assert batch.lines_count == 50 and batch.net == Decimal("470.50")


@pytest.mark.django_db
def test_a_new_payout_repeating_lines_of_another_keeps_them_where_they_are(
    channel: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """A new batch is matched while its lines are staged; a line another batch brought
    already (txn_6 to txn_10), or twice in the file (txn_15), is left out as they go in, and
    the batch is judged again over what it kept: txn_15's order is paid 10.00 once, matched,
    not 20.00 against 10.00 expected."""
    from settlements.models import FeeSchedule, ProviderSettings
    from tests.settlements.flows import paid_order

    FeeSchedule.objects.create(provider="stripe", percent=Decimal("2.9"), fixed=Decimal("0.30"))
    ProviderSettings.objects.create(provider="stripe", channel=channel.channel)
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(1, 16):
            body = paid_order(n, "10.00", [(f"ch_{n}", "10.00")])
            assert channel.post_order(body).status_code == 201
    again = stripe_rows("po_TWO", 15, 1).split("\n", 1)[1]
    processed(channel, stripe_rows("po_ONE", 1, 10))
    done = processed(channel, stripe_rows("po_TWO", 6, 10) + again)
    assert done.counts["new_lines"] == 5  # txn_11 to txn_15, once each
    one, two = (SettlementBatch.objects.get(key=k) for k in ("po_ONE", "po_TWO"))
    assert (one.lines_count, two.lines_count) == (10, 5)
    assert {line.line_key: (line.outcome, line.reason) for line in two.lines.all()} == {
        f"txn_{n}": ("matched", "") for n in range(11, 16)
    }
    assert two.net == Decimal("47.05") and SettlementLine.objects.count() == 15
    # No duplicate for txn_6-10's orders, no mismatch for txn_15's: only the payout, whose
    # amount counts lines this database holds in po_ONE.
    assert list(
        ExceptionItem.objects.filter(
            status="open", dedupe_key__startswith="settlement:"
        ).values_list("kind", flat=True)
    ) == ["payout_variance"]


def stopped_mid_file(channel: Any, **fields: Any) -> Upload:
    """An upload whose worker stopped reading it ten minutes ago (killed, say)."""
    with (FILES / "flows/stripe_po_first.csv").open("rb") as stream:
        made = upload_create(
            stream=stream,
            name="po.csv",
            provider="stripe",
            channel=channel.channel,
            user=None,
            now=timezone.now(),
        )
    stale = timezone.now() - timezone.timedelta(minutes=10)
    Upload.objects.filter(pk=made.pk).update(status="parsing", heartbeat_at=stale, **fields)
    return made


@pytest.mark.django_db
def test_an_upload_whose_worker_died_is_picked_up_again(channel: Any) -> None:
    made = stopped_mid_file(channel, progress=40)
    assert uploads_resume_task() == 1
    made.refresh_from_db()
    assert made.status == "done" and made.attempts == 1
    assert SettlementLine.objects.count() == 4


@pytest.mark.django_db
def test_a_file_whose_reading_stopped_three_times_is_refused_not_read_again(
    channel: Any,
) -> None:
    made = stopped_mid_file(channel, attempts=3)
    assert uploads_resume_task() == 1
    made.refresh_from_db()
    assert (made.status, made.attempts) == ("failed", 3)
    assert "begun 3 times and stopped each time" in made.errors[0]["reason"]
    assert SettlementLine.objects.count() == 0
    assert uploads_resume_task() == 0
    assert ExceptionItem.objects.filter(kind="settlement_file_refused", status="open").count() == 1


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_matches_an_upload_on_postgresql(
    make_channel: Any, staff: Any, worker: None
) -> None:
    from settlements.models import FeeSchedule, ProviderSettings

    from .conftest import paid_order

    web = make_channel("canonical", code="web")
    FeeSchedule.objects.create(provider="stripe", percent=Decimal("2.9"), fixed=Decimal("0.30"))
    ProviderSettings.objects.create(provider="stripe", channel=web.channel)
    assert web.post_order(paid_order(1001, "70.21", [("ch_A1001", "70.21")])).status_code == 201
    from settlements.models import ExpectedSettlement

    wait_for(lambda: ExpectedSettlement.objects.exists())
    finance = staff("finance")
    answer = post(finance, (FILES / "flows/stripe_po_first.csv").read_bytes())
    assert answer.status_code == 202 and answer.json()["status"] == "queued"
    upload_id = answer.json()["id"]
    wait_for(lambda: Upload.objects.get(pk=upload_id).status in ("done", "failed"), seconds=60)
    done = finance.get(f"/api/v1/settlements/uploads/{upload_id}").json()
    assert done["status"] == "done", done
    assert SettlementLine.objects.get(line_key="txn_A").outcome == "matched"
    assert SettlementLine.objects.get(line_key="txn_Z").reason == "no_order"


@pytest.mark.django_db
def test_a_generic_file_reads_its_mapping_before_the_rows_stream(channel: Any) -> None:
    """The mapping is a query; the rows are pulled inside a COPY, where no query may run."""
    from settlements.models import ProviderSettings

    ProviderSettings.objects.create(
        provider="generic",
        channel=channel.channel,
        column_mapping={
            "batch_key": "Payout",
            "line_key": "Id",
            "kind": "Type",
            "gross": "Amount",
            "fee": "Fee",
            "order_ref": "Order",
            "posted_at": "Date",
        },
        currency="USD",
    )
    text = "Payout,Id,Type,Amount,Fee,Order,Date\nP1,T1,sale,100.00,-3.00,#1,2026-11-20\n"
    done = read_through(channel, text, "generic")
    assert done.status == "done", done.errors
    line = SettlementLine.objects.get(line_key__contains="T1")
    assert (line.gross, line.fee, line.net) == (
        Decimal("100.00"),
        Decimal("-3.00"),
        Decimal("97.00"),
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("provider", "text"),
    [
        ("stripe", stripe_rows("po_NUL", 1, 5).replace("#X3", "#X\x003")),
        (
            "amazon",
            (FILES / "amazon_v2_us.tsv").read_text().replace("Principal", "Prin\x00cipal", 1),
        ),
    ],
)
def test_a_nul_character_refuses_the_file_at_its_row_and_keeps_nothing(
    channel: Any, provider: str, text: str
) -> None:
    failed = read_through(channel, text, provider)
    assert failed.status == "failed"
    row = next(n for n, line in enumerate(text.split("\n"), 1) if "\x00" in line)
    assert row > 2  # a data row, past the header (and Amazon's summary)
    assert failed.errors == [{"row": row, "reason": "NUL character in the text"}]
    assert SettlementLine.objects.count() == 0 and SettlementBatch.objects.count() == 0
    assert ExceptionItem.objects.filter(kind="settlement_file_refused").count() == 1


@pytest.mark.django_db
def test_an_amount_too_large_to_keep_refuses_the_file_at_its_row(channel: Any) -> None:
    huge = "123456789012345678901.00"  # 21 digits before the point; a line keeps 15
    net = "123456789012345678900.41"  # less the 0.59 fee
    text = stripe_rows("po_HUGE", 1, 5).replace(
        ",10.00,0.59,9.41,charge,ch_4,", f",{huge},0.59,{net},charge,ch_4,"
    )
    failed = read_through(channel, text)
    assert failed.status == "failed"
    assert failed.errors == [{"row": 5, "reason": f"gross: {huge} is larger than an amount can be"}]
    assert SettlementLine.objects.count() == 0 and SettlementBatch.objects.count() == 0
    assert ExceptionItem.objects.filter(kind="settlement_file_refused").count() == 1
