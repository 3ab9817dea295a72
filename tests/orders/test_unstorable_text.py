"""Text PostgreSQL cannot store, in a channel's own payload (issue 8): a 400 naming where it
is, the message kept byte for byte and an exception queued; the payload's shape stays the
channel's own (no depth limit of ours)."""

from __future__ import annotations

import json

import pytest

from orders.models import Order
from retailsync.core.models import ExceptionItem, InboundMessage
from tests.orders.payloads import canonical_order

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("encoding", "text", "message"),
    [
        ("utf-8", "\x00", "text must not contain NUL characters (\\u0000)"),
        (
            "utf-8",
            "\ud800",
            "text must not contain a lone surrogate (\\ud800): only a pair of them makes a "
            "character",
        ),
        ("utf-16", "\x00", "text must not contain NUL characters (\\u0000)"),
    ],
    ids=["nul", "lone-surrogate", "nul-in-utf-16"],
)
def test_text_postgresql_cannot_store_is_a_400_and_the_message_is_kept(
    channel, encoding, text, message
):
    body = json.dumps(canonical_order(customer_email=f"jane{text}@example.com")).encode(
        encoding, "surrogatepass"
    )

    response = channel.post_order(body)

    assert response.status_code == 400
    assert response.json() == {"errors": [{"field": "customer_email", "message": message}]}
    kept = InboundMessage.objects.get()
    assert (bytes(kept.body), kept.status) == (body, "rejected")
    assert ExceptionItem.objects.get().kind == "message_rejected"
    assert not Order.objects.exists()


def test_a_deeply_nested_part_of_a_channels_own_payload_is_its_own_business(channel):
    nested: object = "leaf"
    for _ in range(100):
        nested = {"more": nested}

    response = channel.post_order(canonical_order(channel_extras=nested))

    assert response.status_code == 201
