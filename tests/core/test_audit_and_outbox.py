"""Audit records of what people write, and the outbox sweep for events never dispatched."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from retailsync.core import events
from retailsync.core.models import AuditRecord, Channel, DomainEvent, EventReceipt
from retailsync.core.services import user_create
from retailsync.core.tasks import events_dispatch_pending

pytestmark = pytest.mark.django_db


def admin_login(client) -> None:  # type: ignore[no-untyped-def]
    user, _ = user_create(username="ada", role="admin", password="ada-pass-2026")
    client.force_login(user)


def channel_form(ch: Channel, **changes: str) -> dict[str, object]:
    """The admin's change form of a channel as the page posts it, with `changes`."""
    return {
        "code": ch.code,
        "name": "Web shop (EU)",
        "source": ch.source,
        "currency": "EUR",
        "legal_entity": ch.legal_entity_id,
        "webhook_secret": "",
        "is_active": "on",
        "created_at_0": "2026-11-01",
        "created_at_1": "00:00:00",
        **changes,
    }


def test_a_change_made_in_the_admin_is_audited_with_who_and_what(client, channel):
    admin_login(client)
    ch = channel.channel

    response = client.post(f"/admin/core/channel/{ch.pk}/change/", channel_form(ch))

    assert response.status_code == 302
    assert Channel.objects.get(pk=ch.pk).currency == "EUR"
    record = AuditRecord.objects.get(actor_name="ada")
    assert (record.via, record.method, record.status_code) == ("admin", "POST", 302)
    assert record.path == f"/admin/core/channel/{ch.pk}/change/"
    assert record.summary["form"]["currency"] == "EUR"
    assert (record.action, record.result) == (f"change channel {ch.pk}", "done")
    assert record.outcome == "The channel “web” was changed successfully."


def test_an_admin_change_with_a_nul_in_a_field_is_refused_before_anything_is_written(
    client, channel
):
    admin_login(client)
    ch = channel.channel

    response = client.post(
        f"/admin/core/channel/{ch.pk}/change/", channel_form(ch, **{"note\x00": "a\x00b"})
    )

    # The NUL guard answers before any view runs: PostgreSQL could not store the text.
    assert response.status_code == 400
    assert Channel.objects.get(pk=ch.pk).currency != "EUR"
    assert not AuditRecord.objects.exists()


def test_an_admin_form_refused_for_its_errors_is_recorded_with_them(client, channel):
    admin_login(client)
    ch = channel.channel

    response = client.post(f"/admin/core/channel/{ch.pk}/change/", channel_form(ch, currency=""))

    assert response.status_code == 200
    record = AuditRecord.objects.get()
    assert (record.action, record.result) == (f"change channel {ch.pk}", "refused")
    assert record.outcome == "refused (200): currency: This field is required."


def test_an_admin_action_names_itself_and_what_it_was_applied_to(client, channel):
    admin_login(client)
    channel.post_order(b"{not json")
    message_id = channel.channel.messages.get().pk

    client.post(
        "/admin/core/inboundmessage/",
        {"action": "replay", "_selected_action": [str(message_id)]},
    )

    record = AuditRecord.objects.get()
    assert record.action == "replay on inbound messages (1 selected)"
    assert record.outcome.startswith(f"Replayed 1 message(s): #{message_id} rejected")


def test_secrets_in_an_audited_body_are_masked(staff):
    finance = staff("finance", username="fin")
    finance.post(
        "/api/v1/exceptions/1/resolve", {"resolution": "x", "api_token": "abc"}, format="json"
    )
    assert AuditRecord.objects.get().summary["body"] == {"resolution": "x", "api_token": "***"}


def test_reading_is_not_audited(staff):
    staff("finance").get("/api/v1/exceptions/")
    assert not AuditRecord.objects.exists()


calls: list[int] = []


def _count(event: DomainEvent) -> None:
    calls.append(event.pk)


@pytest.fixture
def counted() -> Iterator[None]:
    events.subscribe("demo.thing_happened")(_count)
    calls.clear()
    yield
    events._subscribers["demo.thing_happened"].pop(f"{_count.__module__}.{_count.__qualname__}")


def test_the_sweep_dispatches_events_whose_dispatch_was_lost(counted):
    event = events.event_record("demo.thing_happened", "thing", 1, {"n": 1})
    DomainEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    fresh = events.event_record("demo.thing_happened", "thing", 2, {"n": 2})

    assert events_dispatch_pending() == 1
    assert events_dispatch_pending() == 0

    assert calls == [event.pk]
    assert DomainEvent.objects.get(pk=event.pk).dispatched_at is not None
    assert DomainEvent.objects.get(pk=fresh.pk).dispatched_at is None
    assert EventReceipt.objects.get().event_id == event.pk


def test_events_nobody_listens_to_are_done_at_once():
    event = events.event_record("nobody.listens", "thing", 1, {})
    assert event.dispatched_at is not None
