"""The bodies of the return transitions (API.md): inspection in either form and never one that
decides nothing, unknown keys refused by name, the location defaulted to where the units wait,
notes on rejection and cancellation, and every body documented in the schema."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from returns.models import Return
from tests.returns.conftest import shipped_order
from tests.returns.test_lifecycle import act, open_return, stock

pytestmark = pytest.mark.django_db


def received_scarves(shop, quantity=1, where=("WH1",)):
    """A return of `quantity` scarves (reason needing inspection), received parcel by parcel."""
    rid = open_return(
        shop, shipped_order(shop), [{"sku": "SCARF", "quantity": quantity, "reason": "too_small"}]
    )
    act(shop.ops, rid, "authorize")
    each = quantity // len(where)
    for location in where:
        act(
            shop.ops,
            rid,
            "receive",
            {"location": location, "lines": [{"sku": "SCARF", "quantity": each}]},
        )
    return rid


@pytest.mark.parametrize(
    ("disposition", "expected", "counter"),
    [
        ("restock", (1, 0, 0), "restocked"),
        ("damaged", (1, 1, 0), "damaged"),
        ("quality_hold", (1, 0, 1), "quality_hold"),
        ("scrap", (0, 0, 0), "scrapped"),
        ("missing", (0, 0, 0), "missing"),
    ],
)
def test_an_inspection_line_with_a_disposition_and_a_quantity_decides_those_units(
    shop, disposition, expected, counter
):
    rid = received_scarves(shop)
    assert stock("SCARF", "WH1") == (1, 0, 1)  # on quality hold until inspected

    body = act(
        shop.ops,
        rid,
        "inspect",
        {"lines": [{"sku": "SCARF", "quantity": 1, "disposition": disposition}]},
    )

    assert body["status"] == "inspected"
    assert body["lines"][0][counter] == 1
    assert stock("SCARF", "WH1") == expected


def test_both_forms_of_inspection_line_can_split_one_lines_units(shop):
    rid = received_scarves(shop, quantity=3)

    act(
        shop.ops,
        rid,
        "inspect",
        {
            "location": "WH1",
            "lines": [
                {"sku": "SCARF", "quantity": 1, "disposition": "restock"},
                {"sku": "SCARF", "damaged": 1, "scrap": 1},
            ],
        },
    )

    assert stock("SCARF", "WH1") == (2, 1, 0)  # one back to sell, one damaged, one written off


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"lines": []},
        {"location": "WH1", "lines": [{"sku": "SCARF", "restock": 0}]},
        {"lines": [{"sku": "SCARF", "restock": 0, "damaged": 0}]},
    ],
    ids=["no-body", "no-lines", "zero-count", "zero-counts"],
)
def test_an_inspection_that_decides_no_unit_is_refused_and_the_refund_must_wait(shop, body):
    rid = received_scarves(shop)

    refused = act(shop.ops, rid, "inspect", body, status=422)

    assert refused["errors"] == [
        {"field": "lines", "message": "an inspection must decide at least one unit"}
    ]
    assert Return.objects.get(pk=rid).status == "received"
    assert stock("SCARF", "WH1") == (1, 0, 1)
    act(shop.finance, rid, "refund", status=409)


@pytest.mark.parametrize(
    ("action", "body", "errors"),
    [
        (
            "inspect",
            {"lines": [{"sku": "SCARF", "quantity": 1, "dispositon": "restock"}]},
            [
                {
                    "field": "lines[0].dispositon",
                    "message": "Unknown field: this endpoint does not take it.",
                }
            ],
        ),
        (
            "inspect",
            {"lines": [{"sku": "SCARF", "quantity": 1, "disposition": "resell"}]},
            [{"field": "lines[0].disposition", "message": '"resell" is not a valid choice.'}],
        ),
        (
            "inspect",
            {"lines": [{"sku": "SCARF", "quantity": 1, "disposition": "restock", "damaged": 1}]},
            [
                {
                    "field": "lines[0]",
                    "message": "give either a disposition and a quantity, or counts per "
                    "disposition (restock, damaged, quality_hold, scrap, missing), not both",
                }
            ],
        ),
        (
            "inspect",
            {"lines": [{"sku": "SCARF", "disposition": "restock"}]},
            [{"field": "lines[0].quantity", "message": "is required with a disposition"}],
        ),
        (
            "inspect",
            {"lines": [{"sku": "SCARF", "quantity": 1}]},
            [{"field": "lines[0].disposition", "message": "is required with a quantity"}],
        ),
        (
            "receive",
            {"location": "WH1", "lines": [{"sku": "SCARF", "qty": 1}]},
            [
                {
                    "field": "lines[0].qty",
                    "message": "Unknown field: this endpoint does not take it.",
                }
            ],
        ),
        (
            "authorize",
            {"location": "WH1"},
            [{"field": "location", "message": "Unknown field: this endpoint does not take it."}],
        ),
        (
            "refund",
            {"method": "original", "lines": []},
            [{"field": "lines", "message": "Unknown field: this endpoint does not take it."}],
        ),
    ],
)
def test_a_transition_refuses_what_its_body_does_not_take_by_name(shop, action, body, errors):
    rid = received_scarves(shop)
    client = shop.finance if action == "refund" else shop.ops

    refused = act(client, rid, action, body, status=400)

    assert sorted(refused["errors"], key=lambda e: e["field"]) == errors
    assert Return.objects.get(pk=rid).status == "received"


def test_an_inspection_needs_a_location_only_when_the_units_wait_in_two_places(shop):
    rid = received_scarves(shop, quantity=2, where=("WH1", "STORE1"))
    one = {"lines": [{"sku": "SCARF", "quantity": 1, "disposition": "restock"}]}

    refused = act(shop.ops, rid, "inspect", one, status=422)

    assert refused["errors"] == [
        {
            "field": "location",
            "message": "SCARF waits for inspection at STORE1 (1) and WH1 (1): say which location",
        }
    ]
    act(shop.ops, rid, "inspect", {**one, "location": "STORE1"})
    assert (stock("SCARF", "STORE1"), stock("SCARF", "WH1")) == ((1, 0, 0), (1, 0, 1))
    # What is left waits in one place only: no location needed any more.
    body = act(
        shop.ops,
        rid,
        "inspect",
        {"lines": [{"sku": "SCARF", "quantity": 1, "disposition": "damaged"}]},
    )
    assert stock("SCARF", "WH1") == (1, 1, 0)
    assert [(r["location"], r["quantity"]) for r in body["lines"][0]["receipts"]] == [
        ("WH1", 1),
        ("STORE1", 1),
    ]


def test_units_cannot_be_inspected_where_they_are_not(shop):
    rid = received_scarves(shop)

    refused = act(
        shop.ops,
        rid,
        "inspect",
        {
            "location": "STORE1",
            "lines": [{"sku": "SCARF", "quantity": 1, "disposition": "restock"}],
        },
        status=422,
    )

    assert refused["errors"] == [
        {
            "field": "lines[0].quantity",
            "message": "1 of SCARF to inspect at STORE1, but 0 wait for inspection there (WH1: 1)",
        }
    ]
    assert stock("SCARF", "WH1") == (1, 0, 1)


def test_receive_and_inspect_take_the_order_line_id_the_return_shows(shop):
    order_id = shipped_order(shop)
    rid = open_return(
        shop,
        order_id,
        [
            {"sku": "JACKET", "quantity": 1, "reason": "too_small"},
            {"sku": "SCARF", "quantity": 1, "reason": "too_small"},
        ],
    )
    shown = act(shop.ops, rid, "authorize")["lines"]
    scarf = next(line["line_id"] for line in shown if line["sku"] == "SCARF")

    act(shop.ops, rid, "receive", {"location": "WH1", "lines": [{"line_id": scarf, "quantity": 1}]})
    body = act(
        shop.ops,
        rid,
        "inspect",
        {"lines": [{"line_id": scarf, "quantity": 1, "disposition": "restock"}]},
    )

    assert {line["sku"]: (line["received"], line["restocked"]) for line in body["lines"]} == {
        "JACKET": (0, 0),
        "SCARF": (1, 1),
    }


@pytest.mark.parametrize("action", ["reject", "cancel"])
@pytest.mark.parametrize(
    ("body", "message"),
    [({}, "This field is required."), ({"note": "  "}, "This field may not be blank.")],
)
def test_a_rejection_or_cancellation_says_why(shop, action, body, message):
    rid = open_return(
        shop, shipped_order(shop), [{"sku": "SCARF", "quantity": 1, "reason": "too_small"}]
    )

    refused = act(shop.ops, rid, action, body, status=400)

    assert refused["errors"] == [{"field": "note", "message": message}]
    assert Return.objects.get(pk=rid).status == "requested"
    done = act(shop.ops, rid, action, {"note": "worn, tags removed"})
    status = {"reject": "rejected", "cancel": "cancelled"}[action]
    assert (done["status"], done["timeline"][-1]["note"]) == (status, "worn, tags removed")


def test_every_return_transition_documents_its_own_body_with_an_example():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]

    def body_of(action):
        operation = schema["paths"][f"/api/v1/returns/{{id}}/{action}"]["post"]
        content = operation["requestBody"]["content"]["application/json"]
        ref = content["schema"].get("$ref", "").rsplit("/", 1)[-1]
        return operation, content, components[ref] if ref else content["schema"]

    seen = set()
    for action, fields, required in [
        ("authorize", set(), []),
        ("receive", {"location", "lines"}, ["location"]),
        ("inspect", {"location", "lines"}, []),
        ("refund", {"method", "psp_refund_id", "expected_amount"}, []),
        ("close", set(), []),
        ("reject", {"note"}, ["note"]),
        ("cancel", {"note"}, ["note"]),
    ]:
        operation, content, body = body_of(action)
        assert set(body.get("properties", {})) == fields, action
        assert body.get("required", []) == required, action
        assert content.get("examples"), f"{action} has no example"
        for responses in ("400", "404", "409", "422"):
            assert operation["responses"][responses]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Errors"
            }
        seen.add(operation["operationId"])
    assert len(seen) == 7

    _, content, inspect = body_of("inspect")
    line = components[inspect["properties"]["lines"]["items"]["$ref"].rsplit("/", 1)[-1]]
    assert {"sku", "line_id", "quantity", "disposition", "restock", "scrap"} <= set(
        line["properties"]
    )
    example_lines = [x for e in content["examples"].values() for x in e["value"]["lines"]]
    # Both forms are shown: a disposition per line, and counts per disposition.
    assert {"sku", "quantity", "disposition"} in [set(x) for x in example_lines]
    assert any("restock" in x for x in example_lines)


def test_a_return_is_inspected_only_once_no_received_unit_waits(shop):
    rid = received_scarves(shop, quantity=2)

    body = act(
        shop.ops, rid, "inspect", {"location": "WH1", "lines": [{"sku": "SCARF", "restock": 1}]}
    )

    assert body["status"] == "received"  # one scarf is still on hold, undecided
    assert act(shop.finance, rid, "refund", status=409)["errors"][0]["message"] == (
        "a received return cannot be refunded: it must be inspected first"
    )
    body = act(
        shop.ops,
        rid,
        "inspect",
        {"lines": [{"sku": "SCARF", "quantity": 1, "disposition": "scrap"}]},
    )
    assert (body["status"], body["lines"][0]["restocked"], body["lines"][0]["scrapped"]) == (
        "inspected",
        1,
        1,
    )
    assert stock("SCARF", "WH1") == (1, 0, 0)
