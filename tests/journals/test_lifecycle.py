"""An entry's life through the API: approval (and a second approver above the threshold),
delivery to an ERP that is a real HTTP server on this machine (retries, a refusal, a
redelivery), reversal, and periods closed and locked."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from journals.erp.base import Credentials, Delivery, ErpJournal
from journals.models import JournalEntry, JournalLineSource
from retailsync.core.models import ExceptionItem
from tests.journals.conftest import dispatch, sold

pytestmark = pytest.mark.django_db
D = Decimal


class LocalErp:
    """A small ERP adapter for the test's own ERP: POST /journals with a bearer token."""

    name = "local"

    def deliver(self, journal: ErpJournal, credentials: Credentials) -> Delivery:
        body = json.dumps(
            {
                "key": journal.idempotency_key,
                "reference": journal.reference,
                "date": journal.posting_date.isoformat(),
                "currency": journal.currency,
                "reverses": journal.reversal_of,
                "lines": [
                    {"account": x.account, "debit": str(x.debit), "credit": str(x.credit)}
                    for x in journal.lines
                ],
            }
        )
        request = urllib.request.Request(
            credentials.base_url + "/journals",
            data=body.encode(),
            headers={
                "Authorization": f"Bearer {credentials.values['token']}",
                "Content-Type": "application/json",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=credentials.timeout) as answer:
                text = answer.read().decode()
                return Delivery(
                    ok=True, document_id=json.loads(text)["document"], request=body, response=text
                )
        except urllib.error.HTTPError as refused:
            text = refused.read().decode()
            return Delivery(
                ok=False,
                retry=refused.code >= 500,
                error=f"{refused.code}: {text}",
                request=body,
                response=text,
            )


class Erp:
    """The ERP: answers what `script` says next (status, body), else books the journal once
    per idempotency key."""

    def __init__(self) -> None:
        self.script: list[tuple[int, str]] = []
        self.received: list[dict[str, Any]] = []
        self.documents: dict[str, str] = {}
        erp = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                erp.received.append({"auth": self.headers["Authorization"], **body})
                if erp.script:
                    status, text = erp.script.pop(0)
                else:
                    doc = erp.documents.setdefault(body["key"], f"DOC-{len(erp.documents) + 1}")
                    status, text = 201, json.dumps({"document": doc})
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def erp(books, settings, monkeypatch) -> Iterator[Erp]:  # type: ignore[no-untyped-def]
    local = Erp()
    thread = threading.Thread(target=local.server.serve_forever, daemon=True)
    thread.start()
    settings.JOURNAL_ERP_ADAPTERS = {"local": "tests.journals.test_lifecycle.LocalErp"}
    settings.JOURNAL_DELIVERY_TRIES = 3
    entity = books.channel.legal_entity
    entity.erp = "local"
    entity.save()
    monkeypatch.setenv("ERP_US01_URL", local.url)
    monkeypatch.setenv("ERP_US01_TOKEN", "s3cret")
    yield local
    local.server.shutdown()
    local.server.server_close()


def post(client, path, body=None, status=200):  # type: ignore[no-untyped-def]
    response = client.post(path, body or {}, format="json")
    assert response.status_code == status, response.json()
    return response.json()


def entry_id(books) -> int:  # type: ignore[no-untyped-def]
    sold(books)
    dispatch()
    return JournalEntry.objects.get().pk


def delivered(books, pk, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        answer = post(books.finance, f"/api/v1/journals/{pk}/post", status=202)
    assert answer["status"] == "posting"
    return books.finance.get(f"/api/v1/journals/{pk}").json()


def test_an_entry_is_approved_posted_to_its_erp_and_each_attempt_logged(
    books, erp, settings, django_capture_on_commit_callbacks
):
    settings.JOURNAL_SECOND_APPROVAL_ABOVE = "1000"
    pk = entry_id(books)
    approved = post(books.finance, f"/api/v1/journals/{pk}/approve")
    assert (approved["status"], approved["approved_by"], approved["second_approver"]) == (
        "approved",
        "fred",
        None,
    )

    posted = delivered(books, pk, django_capture_on_commit_callbacks)

    assert (posted["status"], posted["erp_document_id"]) == ("posted", "DOC-1")
    assert [(d["attempt"], d["ok"], d["document_id"]) for d in posted["deliveries"]] == [
        (1, True, "DOC-1")
    ]
    [sent] = erp.received
    assert sent["auth"] == "Bearer s3cret"
    assert (sent["key"], sent["reference"], sent["date"]) == (
        posted["number"],
        posted["number"],
        "2026-11-11",
    )
    assert sum(D(x["debit"]) for x in sent["lines"]) == D("322.60")
    assert sum(D(x["credit"]) for x in sent["lines"]) == D("322.60")
    post(books.finance, f"/api/v1/journals/{pk}/post", status=409)  # posted is posted


def test_a_busy_erp_is_tried_again_and_a_refusal_waits_for_a_person(
    books, erp, django_capture_on_commit_callbacks
):
    pk = entry_id(books)
    post(books.finance, f"/api/v1/journals/{pk}/approve")
    erp.script = [(503, '{"error": "busy"}'), (400, '{"error": "account 1100 is blocked"}')]

    failed = delivered(books, pk, django_capture_on_commit_callbacks)

    assert failed["status"] == "failed"
    assert [(d["attempt"], d["ok"], d["retry"]) for d in failed["deliveries"]] == [
        (1, False, True),
        (2, False, False),
    ]
    problem = ExceptionItem.objects.get(kind="journal_delivery_failed", status="open")
    assert "account 1100 is blocked" in problem.reason

    again = delivered(books, pk, django_capture_on_commit_callbacks)  # fixed in the ERP
    assert (again["status"], again["erp_document_id"]) == ("posted", "DOC-1")
    assert len(erp.received) == 3
    problem.refresh_from_db()
    assert problem.status == "resolved"


def test_a_redelivery_after_a_lost_answer_makes_no_second_erp_document(
    books, erp, django_capture_on_commit_callbacks
):
    pk = entry_id(books)
    post(books.finance, f"/api/v1/journals/{pk}/approve")
    key = JournalEntry.objects.get(pk=pk).number
    erp.documents[key] = "DOC-7"  # the ERP booked it, but its answer was lost: a 504
    erp.script = [(504, "gateway timeout")]

    posted = delivered(books, pk, django_capture_on_commit_callbacks)

    assert (posted["status"], posted["erp_document_id"]) == ("posted", "DOC-7")
    assert [r["key"] for r in erp.received] == [key, key]
    assert erp.documents == {key: "DOC-7"}


def test_above_the_threshold_a_second_different_approver_is_needed(books, settings):
    settings.JOURNAL_SECOND_APPROVAL_ABOVE = "300"  # the entry's debits are 322.60
    pk = entry_id(books)

    first = post(books.finance, f"/api/v1/journals/{pk}/approve")
    assert (first["status"], first["approved_by"]) == ("draft", "fred")
    refused = books.finance.post(f"/api/v1/journals/{pk}/approve", {}, format="json")
    assert refused.status_code == 422
    assert "a second, different approver" in refused.json()["errors"][0]["message"]
    sold(books, "R-2")  # the same day's next sale does not slip into the entry being approved
    dispatch()
    assert JournalEntry.objects.count() == 2

    second = post(books.finance2, f"/api/v1/journals/{pk}/approve")
    assert (second["status"], second["approved_by"], second["second_approver"]) == (
        "approved",
        "fred",
        "fiona",
    )
    post(books.ops, f"/api/v1/journals/{pk}/approve", status=403)


def test_a_posted_entry_is_corrected_by_a_reversal_never_edited(
    books, erp, django_capture_on_commit_callbacks
):
    pk = entry_id(books)
    post(books.finance, f"/api/v1/journals/{pk}/approve")
    original = delivered(books, pk, django_capture_on_commit_callbacks)

    reversal = post(books.finance, f"/api/v1/journals/{pk}/reverse", {"note": "wrong day"}, 201)

    assert (reversal["reversal_of"], reversal["status"], reversal["posting_date"]) == (
        original["number"],
        "draft",
        "2026-11-11",
    )
    swapped = {
        (x["account"], x["description"]): (x["credit"], x["debit"]) for x in original["lines"]
    }
    assert {
        (x["account"], x["description"]): (x["debit"], x["credit"]) for x in reversal["lines"]
    } == swapped
    back = JournalEntry.objects.get(pk=reversal["id"])
    assert (
        JournalLineSource.objects.filter(line__entry=back).count()
        == JournalLineSource.objects.filter(line__entry_id=pk).count()
    )
    post(books.finance, f"/api/v1/journals/{pk}/reverse", {}, 409)  # once

    post(books.finance, f"/api/v1/journals/{back.pk}/approve")
    reversed_posted = delivered(books, back.pk, django_capture_on_commit_callbacks)
    assert erp.received[-1]["reverses"] == "DOC-1"
    assert reversed_posted["erp_document_id"] == "DOC-2"

    with pytest.raises(IntegrityError), transaction.atomic():
        JournalEntry.objects.filter(pk=pk).update(note="edited")
    with pytest.raises(IntegrityError), transaction.atomic():
        JournalEntry.objects.get(pk=pk).lines.filter(account__code="4000").update(credit=1)


def test_a_locked_period_takes_only_reversals(books, erp, django_capture_on_commit_callbacks):
    pk = entry_id(books)
    lock = "/api/v1/journals/periods/US01/2026-11/lock"
    refused = books.finance.post(lock, {}, format="json")
    assert refused.status_code == 409
    assert "1 entries not posted yet" in refused.json()["errors"][0]["message"]
    post(books.finance, f"/api/v1/journals/{pk}/approve")
    delivered(books, pk, django_capture_on_commit_callbacks)

    assert post(books.finance, lock)["status"] == "locked"
    post(books.finance, "/api/v1/journals/periods/US01/2026-11/reopen", status=409)
    sold(books, "R-late", when="2026-11-30T10:00:00Z")  # a late shipment
    dispatch()
    late = JournalEntry.objects.exclude(pk=pk).get()
    assert (late.period.period, str(late.posting_date)) == ("2026-12", "2026-12-01")
    assert "which is locked: posted in 2026-12 instead" in late.note

    reversal = post(books.finance, f"/api/v1/journals/{pk}/reverse", {}, 201)
    assert reversal["period"] == "2026-11"
    assert post(books.finance, f"/api/v1/journals/{reversal['id']}/approve")["status"] == "approved"


def test_close_and_reopen_a_period(books):
    closed = post(books.finance, "/api/v1/journals/periods/US01/2026-10/close")
    assert (closed["period"], closed["status"], closed["changed_by"]) == (
        "2026-10",
        "closed",
        "fred",
    )
    post(books.finance, "/api/v1/journals/periods/US01/2026-10/close", status=409)
    assert post(books.finance, "/api/v1/journals/periods/US01/2026-10/reopen")["status"] == "open"
    post(books.finance, "/api/v1/journals/periods/XX99/2026-10/close", status=404)
    post(books.finance, "/api/v1/journals/periods/US01/2026-13/close", status=422)
    for edge in ("0000-01", "9999-12"):  # no date holds them and the month after (a 500 before)
        post(books.finance, f"/api/v1/journals/periods/US01/{edge}/close", status=422)
        post(books.finance, "/api/v1/journals/run", {"period": edge}, status=400)
    listed = books.finance.get("/api/v1/journals/periods/").json()["results"]
    assert [(p["legal_entity"], p["period"], p["status"]) for p in listed] == [
        ("US01", "2026-10", "open")
    ]
