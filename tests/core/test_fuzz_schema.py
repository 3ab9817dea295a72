"""The schema fuzzer: Schemathesis over every operation of the OpenAPI schema (/api/schema/).

Each operation gets a bounded, derandomized set of generated requests (valid and invalid
bodies, queries and paths) against the Django app in-process, on PostgreSQL, with an admin's
token or, on a channel's own paths, the channel's. Every answer must be no server error, a
status code the schema declares for that operation, in a declared content type, with a body that
conforms to the declared schema. About half of the generated ids are swapped for ones that
exist (an accepted order, a requested return, an open exception, a return's correlation id), so
bodies reach the services and reads answer 200.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from inventory.services import allocation_set, item_upsert, location_upsert
from retailsync.core.auth import token_issue
from retailsync.core.services import exception_raise, user_create
from tests.factories import ChannelFactory
from tests.orders.payloads import canonical_order

CHANNEL = "web"
# Per operation: 28 operations stay under a minute on two cores. Fuzz deeper locally with
# FUZZ_EXAMPLES=500 (still derandomized: the same requests for the same number).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 8,
        "generation": {
            "max-examples": EXAMPLES,
            "deterministic": True,  # derandomized: the same requests on every run
            "database": "none",
        },
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "parameters": {"path.code": CHANNEL},
    }
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# The channel's own deliveries take its token; every other operation an admin's.
CHANNEL_PATHS = {
    f"/api/v1/channels/{{code}}/{tail}"
    for tail in ("orders", "orders/batch", "refunds", "availability")
}

# The same generator /api/schema/ serves (test_the_fuzzer_reads_the_served_schema holds it).
SCHEMA_DOCUMENT = SchemaGenerator().get_schema(request=None, public=True)
schema = schemathesis.openapi.from_dict(SCHEMA_DOCUMENT, config=CONFIG)
schema.app = WSGIHandler()


def test_the_fuzzer_reads_the_served_schema(staff):
    served = staff("admin").get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert served.status_code == 200
    assert served.json() == SCHEMA_DOCUMENT


@pytest.fixture
def world(db: None) -> Iterator[dict[str, Any]]:
    """Tokens, and things for ids to name: stock, an accepted order, a requested return, an
    exception (with no channel: its channel is null)."""
    seeded = _seed()
    # The app runs in this test's transaction: keep Django from closing the connection after
    # each request, as its test client does (and undoes after each of its own requests).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield seeded
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _seed() -> dict[str, Any]:
    from rest_framework.test import APIClient

    channel = ChannelFactory(code=CHANNEL, source="canonical")
    _, staff_token = user_create(username="fuzz-admin", role="admin")
    channel_token = token_issue(channel=channel)
    for code in ("WH1", "WH2"):
        location_upsert(code=code, kind="warehouse")
    for sku in ("TSHIRT-BLK-M", "MUG-WHT"):
        item_upsert(sku=sku)
    allocation_set(channel=channel, locations=["WH1", "WH2"])
    client, as_channel = APIClient(), APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {staff_token}")
    as_channel.credentials(HTTP_AUTHORIZATION=f"Token {channel_token}")
    receipts = [
        {
            "event_id": f"seed-{sku}",
            "source": "seed",
            "type": "receipt",
            "sku": sku,
            "location": "WH1",
            "quantity": 50,
            "occurred_at": "2026-11-01T00:00:00Z",
        }
        for sku in ("TSHIRT-BLK-M", "MUG-WHT")
    ]
    stocked = client.post("/api/v1/inventory/events", receipts, format="json")
    assert stocked.status_code == 200, stocked.json()
    orders = [
        as_channel.post(
            f"/api/v1/channels/{CHANNEL}/orders",
            canonical_order(external_id=f"FUZZ-{n}"),
            format="json",
        ).json()["id"]
        for n in (1, 2)
    ]
    shipped = client.post(
        f"/api/v1/orders/{orders[1]}/shipments",
        {"location": "WH1", "lines": [{"sku": "MUG-WHT", "quantity": 1}]},
        format="json",
    )
    assert shipped.status_code == 201, shipped.json()
    ret = client.post(
        "/api/v1/returns/",
        {"order": orders[1], "lines": [{"sku": "MUG-WHT", "quantity": 1, "reason": "damaged"}]},
        format="json",
    )
    assert ret.status_code == 201, ret.json()
    return {
        "tokens": {"staff": staff_token, "channel": channel_token},
        "ids": {
            "orders": orders[0],
            "returns": ret.json()["id"],
            "exceptions": exception_raise(kind="fuzz", reason="seeded").pk,
            "trace": ret.json()["correlation_id"],
        },
    }


@schema.parametrize()
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_answers_as_its_schema_says(case: Any, world: dict[str, Any]) -> None:
    path = case.operation.path
    who = "channel" if path in CHANNEL_PATHS else "staff"
    resource = path.removeprefix("/api/v1/").split("/")[0]
    for name in ("id", "correlation_id"):
        generated = (case.path_parameters or {}).get(name)
        if resource in world["ids"] and generated is not None and len(str(generated)) % 2 == 0:
            case.path_parameters[name] = world["ids"][resource]
    case.call_and_validate(
        headers={"Authorization": f"Token {world['tokens'][who]}"}, checks=CHECKS
    )
