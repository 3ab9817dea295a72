"""The exception queue: listing, filtering by status and age, resolving with who and how."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from retailsync.core.models import AuditRecord, ExceptionItem
from retailsync.core.selectors import exceptions_aging
from retailsync.core.services import exception_raise

pytestmark = pytest.mark.django_db


def _raise_aged(days: float, kind: str = "order_rejected") -> ExceptionItem:
    return exception_raise(
        kind=kind, reason=f"{days} days old", now=timezone.now() - timedelta(days=days)
    )


def test_open_exceptions_are_listed_with_their_age_and_object(staff):
    item = exception_raise(
        kind="order_rejected",
        reason="total does not add up",
        object_type="inbound_message",
        object_id=7,
        object_label="web order W-7",
        now=timezone.now() - timedelta(hours=3),
    )

    body = staff("finance").get("/api/v1/exceptions/?status=open").json()

    [row] = body["results"]
    assert row["id"] == item.pk
    assert row["kind"] == "order_rejected"
    assert row["status"] == "open"
    assert 3 * 3600 <= row["age"] < 3 * 3600 + 60
    assert row["object"] == {"type": "inbound_message", "id": "7", "label": "web order W-7"}


def test_the_age_filter_and_the_aging_table_use_the_same_buckets(staff):
    for days in (0.5, 2, 3, 10, 45):
        _raise_aged(days)
    _raise_aged(8, kind="backorder")
    finance = staff("finance")

    def count(bucket: str) -> int:
        return finance.get("/api/v1/exceptions/", {"status": "open", "age": bucket}).json()["count"]

    assert [count(b) for b in ("0-1 d", "1-7 d", "7-30 d", "30+ d")] == [1, 2, 2, 1]
    aging = exceptions_aging(ExceptionItem.objects.filter(status="open"))
    assert aging == [
        {"kind": "backorder", "buckets": [0, 0, 1, 0], "total": 1},
        {"kind": "order_rejected", "buckets": [1, 2, 1, 1], "total": 5},
    ]


def test_resolving_records_who_and_how_and_cannot_happen_twice(staff):
    item = exception_raise(kind="order_rejected", reason="missing SKU")
    finance = staff("finance", username="fiona")

    first = finance.post(
        f"/api/v1/exceptions/{item.pk}/resolve",
        {"resolution": "SKU mapped, replayed"},
        format="json",
    )
    second = finance.post(
        f"/api/v1/exceptions/{item.pk}/ignore", {"resolution": "a duplicate"}, format="json"
    )

    assert first.status_code == 200
    assert (first.json()["status"], first.json()["resolved_by"]) == ("resolved", "fiona")
    assert first.json()["resolution"] == "SKU mapped, replayed"
    assert second.status_code == 409
    assert finance.get("/api/v1/exceptions/?status=open").json()["count"] == 0
    audit = AuditRecord.objects.filter(actor_name="fiona").order_by("pk")
    assert [(a.via, a.path, a.status_code) for a in audit] == [
        ("api", f"/api/v1/exceptions/{item.pk}/resolve", 200),
        ("api", f"/api/v1/exceptions/{item.pk}/ignore", 409),
    ]
    assert audit[0].summary == {"body": {"resolution": "SKU mapped, replayed"}}


def test_an_unknown_exception_is_a_404(staff):
    assert (
        staff("finance").post("/api/v1/exceptions/424242/resolve", {}, format="json").status_code
        == 404
    )


def test_the_queue_needs_a_person_with_a_role(client, django_user_model):
    assert client.get("/api/v1/exceptions/").status_code == 401
    client.force_login(django_user_model.objects.create_user("norole", password="x"))
    assert client.get("/api/v1/exceptions/").status_code == 403


@pytest.mark.parametrize(
    ("next_url", "lands_on"),
    [
        ("https://elsewhere.example/phish", "/exceptions/"),
        ("//elsewhere.example/phish", "/exceptions/"),
        ("/\\elsewhere.example", "/exceptions/"),
        ("javascript:alert(1)", "/exceptions/"),
        ("/exceptions/?status=open&kind=backorder", "/exceptions/?status=open&kind=backorder"),
    ],
)
def test_closing_from_the_page_returns_only_to_a_page_of_this_site(
    client, django_user_model, next_url, lands_on
):
    from retailsync.core.services import user_create

    user_create(username="fin", role="finance", password="pw-123456789")
    client.login(username="fin", password="pw-123456789")
    item = exception_raise(kind="order_rejected", reason="bad total")

    answer = client.post(
        f"/exceptions/{item.pk}/close",
        {"status": "resolved", "resolution": "fixed upstream", "next": next_url},
    )

    assert answer.status_code == 302
    assert answer["Location"] == lands_on
    item.refresh_from_db()
    assert item.status == "resolved"
