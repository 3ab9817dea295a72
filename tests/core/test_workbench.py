"""The exception workbench: owners, comments, a required note, bulk closing, SLA, human links."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Order
from retailsync.core.models import AuditRecord, ExceptionItem
from retailsync.core.services import exception_raise, user_create
from tests.orders.payloads import canonical_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def fiona(client):  # type: ignore[no-untyped-def]
    user, _ = user_create(username="fiona", role="finance", password="fiona-pass-2026")
    client.force_login(user)
    return client


def _raise(kind: str = "order_rejected", hours: float = 0, **kwargs: object) -> ExceptionItem:
    return exception_raise(
        kind=kind,
        reason=kwargs.pop("reason", f"{kind} {hours} h ago"),  # type: ignore[arg-type]
        now=timezone.now() - timedelta(hours=hours),
        **kwargs,  # type: ignore[arg-type]
    )


# --- the API ----------------------------------------------------------------------------------


def test_assigning_through_the_api_names_the_owner_and_the_owner_filter_finds_it(staff):
    mine, theirs, nobodys = _raise(), _raise(), _raise()
    finance = staff("finance", username="fiona")
    ops = staff("operations", username="otto")

    assert finance.post(
        f"/api/v1/exceptions/{mine.pk}/assign", {"owner": "fiona"}, format="json"
    ).json()["owner"] == ("fiona")
    answer = finance.post(
        f"/api/v1/exceptions/{theirs.pk}/assign", {"owner": "otto"}, format="json"
    )
    assert answer.status_code == 200

    def ids(client, owner: str) -> set[int]:  # type: ignore[no-untyped-def]
        return {
            r["id"] for r in client.get("/api/v1/exceptions/", {"owner": owner}).json()["results"]
        }

    assert ids(finance, "me") == {mine.pk}
    assert ids(ops, "me") == {theirs.pk}
    assert ids(finance, "unassigned") == {nobodys.pk}
    assert ids(finance, "otto") == {theirs.pk}
    unassigned = finance.post(
        f"/api/v1/exceptions/{mine.pk}/assign", {"owner": None}, format="json"
    )
    assert unassigned.json()["owner"] is None
    assert ids(finance, "unassigned") == {mine.pk, nobodys.pk}
    audit = AuditRecord.objects.filter(actor_name="fiona", status_code=200).order_by("pk")
    assert [a.outcome for a in audit][-1] == f"exception {mine.pk} assigned to nobody"


def test_assigning_to_someone_who_cannot_work_the_queue_is_a_422_naming_owner(
    staff, django_user_model
):
    item = _raise()
    django_user_model.objects.create_user("visitor", password="x")  # no role
    finance = staff("finance")

    for owner in ("visitor", "nobody-at-all"):
        answer = finance.post(
            f"/api/v1/exceptions/{item.pk}/assign", {"owner": owner}, format="json"
        )
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["field"] == "owner"
    item.refresh_from_db()
    assert item.owner is None


def test_comments_are_kept_in_order_with_their_author(staff):
    item = _raise()
    finance = staff("finance", username="fiona")
    ops = staff("operations", username="otto")

    first = finance.post(
        f"/api/v1/exceptions/{item.pk}/comments",
        {"text": "Asked the shop to resend"},
        format="json",
    )
    ops.post(f"/api/v1/exceptions/{item.pk}/comments", {"text": "Resent at 10:40"}, format="json")
    blank = ops.post(f"/api/v1/exceptions/{item.pk}/comments", {"text": "  "}, format="json")

    assert first.status_code == 201
    assert first.json()["author"] == "fiona"
    assert blank.status_code == 400
    assert blank.json()["errors"][0]["field"] == "text"
    [row] = finance.get("/api/v1/exceptions/").json()["results"]
    assert [(c["author"], c["text"]) for c in row["comments"]] == [
        ("fiona", "Asked the shop to resend"),
        ("otto", "Resent at 10:40"),
    ]


@pytest.mark.parametrize("body", [{}, {"resolution": ""}, {"resolution": "   "}])
@pytest.mark.parametrize("action", ["resolve", "ignore"])
def test_closing_without_a_note_is_refused_naming_resolution(staff, body, action):
    item = _raise()

    answer = staff("finance").post(f"/api/v1/exceptions/{item.pk}/{action}", body, format="json")

    assert answer.status_code in (400, 422)
    assert [e["field"] for e in answer.json()["errors"]] == ["resolution"]
    item.refresh_from_db()
    assert (item.status, item.resolved_at) == ("open", None)


def test_an_exception_is_overdue_past_its_kinds_sla_and_the_filter_says_so(staff, settings):
    settings.RETAILSYNC_EXCEPTION_SLA_HOURS = {"chargeback": 24}
    late_chargeback = _raise("chargeback", hours=25)
    fresh_chargeback = _raise("chargeback", hours=23)
    rejected = _raise("order_rejected", hours=25)  # 48 h by default
    old_rejected = _raise("order_rejected", hours=49)
    closed = _raise("chargeback", hours=100)
    ExceptionItem.objects.filter(pk=closed.pk).update(
        status="resolved", resolved_at=timezone.now(), resolution="won"
    )
    finance = staff("finance")

    rows = {r["id"]: r for r in finance.get("/api/v1/exceptions/").json()["results"]}
    overdue = finance.get("/api/v1/exceptions/", {"overdue": "true"}).json()["results"]

    assert {r["id"] for r in overdue} == {late_chargeback.pk, old_rejected.pk}
    assert rows[late_chargeback.pk]["overdue"] is True
    assert rows[fresh_chargeback.pk]["overdue"] is False
    assert rows[rejected.pk]["overdue"] is False
    assert rows[closed.pk]["overdue"] is False
    due = late_chargeback.created_at + timedelta(hours=24)
    assert rows[late_chargeback.pk]["due_at"] == due.isoformat().replace("+00:00", "Z")


def test_an_exception_about_an_order_links_to_it_by_the_order_number(
    staff, channel, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        channel.post_order(canonical_order(external_id="6018", order_number="WS-6018"))
    order = Order.objects.get(external_id="6018")
    # The shop has no item master: its order raised an unknown-SKU exception about it.
    item = ExceptionItem.objects.get(kind="unknown_sku")

    [row] = staff("finance").get("/api/v1/exceptions/", {"kind": "unknown_sku"}).json()["results"]

    assert (item.object_type, item.object_id) == ("order", str(order.pk))
    assert row["link"] == {"label": "WS-6018", "url": f"/orders/{order.pk}/"}
    assert f"order {order.pk} " not in item.reason
    assert "web order 6018" in item.reason


# --- the page ---------------------------------------------------------------------------------


def test_bulk_resolve_needs_a_note_then_closes_every_selected_open_row(fiona):
    a, b, c = _raise(), _raise(), _raise()

    refused = fiona.post(
        "/exceptions/bulk", {"action": "resolved", "pk": [a.pk, b.pk], "resolution": ""}
    )
    assert refused.status_code == 302
    assert ExceptionItem.objects.filter(status="open").count() == 3

    done = fiona.post(
        "/exceptions/bulk",
        {"action": "resolved", "pk": [a.pk, b.pk], "resolution": "Resent by the shop"},
        follow=True,
    )

    assert f"2 exception(s) resolved: Resent by the shop (#{a.pk}, #{b.pk})." in (
        done.content.decode()
    )
    for item in (a, b):
        item.refresh_from_db()
        assert (item.status, item.resolution, item.resolved_by.username) == (
            "resolved",
            "Resent by the shop",
            "fiona",
        )
    c.refresh_from_db()
    assert c.status == "open"


def test_bulk_assign_to_me_and_to_someone_and_ignore(fiona):
    user_create(username="otto", role="operations")
    a, b = _raise(), _raise()

    fiona.post("/exceptions/bulk", {"action": "assign_me", "pk": [a.pk]})
    fiona.post("/exceptions/bulk", {"action": "assign", "owner": "otto", "pk": [b.pk]})
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.owner.username, b.owner.username) == ("fiona", "otto")

    mine = fiona.get("/exceptions/", {"owner": "me"}).content.decode()
    assert f'data-exception="{a.pk}"' in mine and f'data-exception="{b.pk}"' not in mine

    fiona.post(
        "/exceptions/bulk", {"action": "ignored", "pk": [a.pk, b.pk], "resolution": "test data"}
    )
    assert set(ExceptionItem.objects.values_list("status", flat=True)) == {"ignored"}


def test_the_page_filters_by_kind_channel_owner_and_sla_as_choices(fiona, settings):
    settings.RETAILSYNC_EXCEPTION_SLA_HOURS = {"chargeback": 24}
    late = _raise("chargeback", hours=30)
    fresh = _raise("chargeback", hours=1)
    other = _raise("backorder", hours=1)

    def shown(**query: str) -> set[int]:
        page = fiona.get("/exceptions/", query).content.decode()
        return {x.pk for x in (late, fresh, other) if f'data-exception="{x.pk}"' in page}

    assert shown() == {late.pk, fresh.pk, other.pk}
    assert shown(kind="chargeback") == {late.pk, fresh.pk}
    assert shown(overdue="true") == {late.pk}
    assert shown(owner="unassigned") == {late.pk, fresh.pk, other.pk}
    assert shown(kind="not-a-kind") == set()  # not a choice: nothing, and the form says so
    page = fiona.get("/exceptions/").content.decode()
    assert '<option value="chargeback">chargeback</option>' in page
    assert f'<tr data-exception="{late.pk}" class="overdue' in page
    assert f'<tr data-exception="{fresh.pk}" class="overdue' not in page
    # Every domain's reason codes, in words.
    for kind, words in (
        ("no_order", "no order found for it"),
        ("unmapped_account", "a posting has no account mapped"),
        ("refund_mismatch", "a channel refunded another amount"),
        ("backorder", "not enough stock to reserve"),
        ("order_rejected", "an order failed validation"),
        ("settlement_file_refused", "a settlement file or bank statement was refused"),
    ):
        assert f'<tr data-kind="{kind}"><td><code>{kind}</code></td><td>{words}' in page


def test_the_search_finds_an_exception_by_the_order_number_people_see(
    fiona, channel, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        channel.post_order(canonical_order(external_id="6018", order_number="WS-6018"))
    with django_capture_on_commit_callbacks(execute=True):
        channel.post_order(canonical_order(external_id="6019", order_number="WS-6019"))
    order = Order.objects.get(external_id="6018")

    page = fiona.get("/exceptions/", {"q": "WS-6018"}).content.decode()

    [item] = ExceptionItem.objects.filter(object_type="order", object_id=str(order.pk))
    assert f'data-exception="{item.pk}"' in page
    assert page.count("data-exception=") == 1
    assert f'<a href="/orders/{order.pk}/" data-object>WS-6018</a>' in page


def test_one_exceptions_page_assigns_comments_and_closes_with_a_note(fiona):
    item = _raise(reason="total does not add up")

    fiona.post(f"/exceptions/{item.pk}/assign", {"owner": "me"})
    fiona.post(f"/exceptions/{item.pk}/comment", {"text": "Asked the shop"})
    fiona.post(f"/exceptions/{item.pk}/close", {"status": "resolved", "resolution": ""})
    item.refresh_from_db()
    assert (item.owner.username, item.status) == ("fiona", "open")
    fiona.post(f"/exceptions/{item.pk}/close", {"status": "resolved", "resolution": "Resent"})

    page = fiona.get(f"/exceptions/{item.pk}/").content.decode()
    assert "Asked the shop" in page
    assert "Resolved" in page and ": Resent" in page
    item.refresh_from_db()
    assert (item.status, item.resolution) == ("resolved", "Resent")


def test_the_trace_names_the_order_and_links_its_exceptions(
    fiona, channel, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        channel.post_order(canonical_order(external_id="6018", order_number="WS-6018"))
    order = Order.objects.get(external_id="6018")
    item = ExceptionItem.objects.get(kind="unknown_sku")

    page = fiona.get(f"/trace/{order.correlation_id}/").content.decode()

    assert f'<a href="/orders/{order.pk}/" data-object>WS-6018</a>' in page
    assert f'<a href="/exceptions/{item.pk}/">exception:{item.pk}</a>' in page
    assert ".000" not in page and "+00:00" not in page  # no fractions of seconds shown
