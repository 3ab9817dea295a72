"""Audit records: written with the write or not at all, and saying what was asked and what came
of it in business terms (issue 8: the writes that escape the audit; issue 9: who did what)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from django.db import connection

from inventory.models import ChannelAllocation, Location
from inventory.services import location_upsert
from retailsync.core.models import AuditRecord
from retailsync.core.services import exception_raise, user_create

pytestmark = pytest.mark.django_db

DEEP = b"[" * 100 + b"]" * 100
DEEPER_THAN_PYTHON_READS = b"[" * 5000 + b"]" * 5000


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            b'{"locations": ["WH1"], "item_safety_stock": {"TEE\\u0000": 1}}',
            "item_safety_stock",
            "a key must not contain NUL characters (\\u0000)",
        ),
        (
            b'{"locations": ["WH1"], "webhook_url": "https://x.example/\\u0000"}',
            "webhook_url",
            "text must not contain NUL characters (\\u0000)",
        ),
        (
            b'{"locations": ["WH1"], "webhook_url": "https://x.example/\\ud800"}',
            "webhook_url",
            "text must not contain a lone surrogate (\\ud800): only a pair of them makes a "
            "character",
        ),
        (
            b'{"locations": ["WH1"], "item_safety_stock": {"TEE": 1}, "rules": ' + DEEP + b"}",
            "rules" + "[0]" * 31,
            "JSON nested deeper than 32 levels",
        ),
    ],
    ids=["nul-in-key", "nul-in-text", "lone-surrogate", "nested-100-deep"],
)
def test_what_postgresql_cannot_store_is_a_400_naming_it_before_anything_is_written(
    staff, channel, body, field, message
):
    location_upsert(code="WH1", kind="warehouse")
    response = staff("operations", username="olga").put(
        "/api/v1/channels/web/allocation", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json() == {"errors": [{"field": field, "message": message}]}
    assert not ChannelAllocation.objects.exists()
    record = AuditRecord.objects.get()
    assert (record.actor_name, record.result, record.status_code) == ("olga", "refused", 400)
    assert record.outcome == f"refused (400): {field}: {message}"
    assert record.summary == {"body": f"(refused: {field}: {message})"}


def test_json_too_deep_for_python_to_read_is_a_400_not_a_500(staff):
    response = staff("finance").post(
        "/api/v1/exceptions/1/resolve", DEEPER_THAN_PYTHON_READS, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith("body is not valid JSON")
    assert AuditRecord.objects.get().result == "refused"


@contextlib.contextmanager
def refusing_inserts(table: str, error: str) -> Iterator[None]:
    """The table refuses every row, the way a full disk or a broken constraint would."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE FUNCTION refuse_{table}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{error}'; END $$"
        )
        cursor.execute(
            f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION refuse_{table}()"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER refuse_{table} ON {table}")
            cursor.execute(f"DROP FUNCTION refuse_{table}()")


@pytest.mark.django_db(transaction=True)
def test_a_write_whose_record_cannot_be_written_is_not_kept(staff, make_channel):
    location_upsert(code="WH1", kind="warehouse")
    make_channel(code="web")
    ops = staff("operations")
    ops.raise_request_exception = False

    with refusing_inserts("core_auditrecord", "audit refused"):
        response = ops.put(
            "/api/v1/channels/web/allocation",
            {"locations": ["WH1"], "safety_stock": 2},
            format="json",
        )

    assert response.status_code == 500
    assert not ChannelAllocation.objects.exists()


def test_a_write_that_fails_is_rolled_back_whole_and_recorded_as_failed(staff):
    ops = staff("operations", username="olga")
    ops.raise_request_exception = False

    with refusing_inserts("inventory_location", "disk full"):
        response = ops.post(
            "/api/v1/inventory/locations", {"code": "WH9", "kind": "warehouse"}, format="json"
        )

    assert response.status_code == 500
    assert not Location.objects.exists()
    record = AuditRecord.objects.get()
    assert (record.actor_name, record.action, record.result) == (
        "olga",
        "location-upsert",
        "failed",
    )
    assert record.outcome == "failed (500): nothing was kept"


def test_a_write_without_a_note_says_what_its_url_and_status_say(staff):
    staff("operations", username="olga").post(
        "/api/v1/inventory/locations", {"code": "WH9", "kind": "warehouse"}, format="json"
    )

    record = AuditRecord.objects.get()
    assert (record.action, record.result, record.outcome) == (
        "location-upsert",
        "done",
        "201 Created",
    )


def test_closing_an_exception_says_which_how_and_a_second_close_is_refused_with_why(staff):
    item = exception_raise(kind="order_rejected", reason="missing SKU")
    finance = staff("finance", username="fiona")

    finance.post(
        f"/api/v1/exceptions/{item.pk}/resolve", {"resolution": "SKU mapped"}, format="json"
    )
    finance.post(f"/api/v1/exceptions/{item.pk}/ignore", {"resolution": "dup"}, format="json")

    first, second = AuditRecord.objects.order_by("pk")
    assert (first.result, first.outcome) == (
        "done",
        f"exception {item.pk} (order_rejected) resolved: SKU mapped",
    )
    assert (second.action, second.result, second.outcome) == (
        f"exception-ignore (pk={item.pk})",
        "refused",
        f"refused (409): exception {item.pk} is resolved already",
    )


def test_closing_an_exception_in_the_back_office_is_recorded_like_the_api(client, staff):
    item = exception_raise(kind="order_rejected", reason="missing SKU")
    user, _ = user_create(username="fiona", role="finance", password="fiona-pass-2026")
    client.force_login(user)

    client.post(f"/exceptions/{item.pk}/close", {"status": "ignored", "resolution": "test order"})
    client.post(f"/exceptions/{item.pk}/close", {"status": "resolved", "resolution": "again"})

    first, second = AuditRecord.objects.order_by("pk")
    assert (first.via, first.result, first.outcome) == (
        "backoffice",
        "done",
        f"exception {item.pk} (order_rejected) ignored: test order",
    )
    # The page redirected (302) and said why not: that is a refusal.
    assert (second.status_code, second.result, second.outcome) == (
        302,
        "refused",
        f"refused (302): exception {item.pk} is ignored already",
    )
