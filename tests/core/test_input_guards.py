"""What a caller puts in a path or a query never earns a 500 or an HTML page from the API.

NUL in a path, a filter or a form is a 400 (JSON under /api/, a page elsewhere); integer query
parameters are ASCII digits within documented bounds, else 400 naming them; pages of results
stop at 500; a path that matches no endpoint under /api/v1/ answers 404 in the error shape.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from retailsync.core.services import exception_raise, user_create
from tests.inventory.conftest import event

pytestmark = pytest.mark.django_db

NUL_MESSAGE = "text must not contain NUL characters (\\u0000)"


def assert_errors(response, status: int, field: str | None = None) -> list[dict[str, str]]:
    """The answer is `status` with API.md's JSON error body (naming `field`, if given)."""
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json"
    errors = response.json()["errors"]
    assert errors and all(set(e) == {"field", "message"} for e in errors), errors
    if field is not None:
        assert [e["field"] for e in errors] == [field], errors
    return errors


@pytest.fixture
def admin(staff):
    return staff("admin")


@pytest.fixture
def page_client(client):
    user, _ = user_create(username="pages-admin", role="admin")
    client.force_login(user)
    return client


# --- integers in the query ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=²", "since"),  # passes str.isdigit(), then int() fails
        ("since=¹²", "since"),
        ("limit=¹", "limit"),
        ("limit=１０", "limit"),  # fullwidth digits: int() would read 10
        ("since=-1", "since"),
        ("since=1e3", "since"),
        ("since=99999999999999999999", "since"),  # past PostgreSQL's bigint
        ("limit=0", "limit"),
        ("limit=5001", "limit"),
        ("limit=+5", "limit"),
    ],
)
def test_the_availability_feed_reads_integers_strictly(channel, query, field):
    response = channel.client.get(
        f"/api/v1/channels/web/availability?{query}", HTTP_AUTHORIZATION=f"Token {channel.token}"
    )
    assert_errors(response, 400, field)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=100000", "limit"),
        ("limit=501", "limit"),
        ("limit=abc", "limit"),
        ("limit=0", "limit"),
        ("limit=-1", "limit"),
        ("limit=¹", "limit"),
        ("offset=-5", "offset"),
        ("offset=x", "offset"),
        ("offset=²", "offset"),
    ],
)
@pytest.mark.parametrize("path", ["orders/", "inventory/positions", "returns/", "exceptions/"])
def test_pages_of_results_stop_at_500_and_bad_bounds_are_named(admin, path, query, field):
    assert_errors(admin.get(f"/api/v1/{path}?{query}"), 400, field)


def test_a_page_of_500_is_served_and_the_default_is_50(admin):
    for n in range(60):
        exception_raise(kind="test", reason=f"r{n}")

    full = admin.get("/api/v1/exceptions/?limit=500")
    assert full.status_code == 200
    assert len(full.json()["results"]) == 60
    default = admin.get("/api/v1/exceptions/").json()
    assert (default["count"], len(default["results"])) == (60, 50)
    assert "offset=50" in default["next"]


# --- NUL ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/trace/%00", "path"),
        ("/api/v1/trace/a%00b", "path"),
        ("/api/v1/inventory/positions?sku=%00", "sku"),
        ("/api/v1/inventory/positions?location=WH%001", "location"),
        ("/api/v1/returns/?status=%00", "status"),
        ("/api/v1/orders/?sku=x&external_id=%00", "external_id"),
    ],
)
def test_nul_in_an_api_path_or_filter_is_a_400_naming_where(admin, path, field):
    errors = assert_errors(admin.get(path), 400, field)
    assert errors[0]["message"] == NUL_MESSAGE


def test_nul_in_a_json_body_is_a_400_naming_the_field(admin):
    response = admin.post(
        "/api/v1/inventory/locations",
        {"code": "WH9", "kind": "warehouse", "name": "Main\x00hall"},
        format="json",
    )
    errors = assert_errors(response, 400, "name")
    assert errors[0]["message"] == NUL_MESSAGE


@pytest.mark.parametrize(
    "path",
    [
        "/orders/?q=%00",
        "/orders/?channel=%00",
        "/stock/?sku=%00",
        "/stock/%00/",
        "/exceptions/?kind=%00",
        "/trace/%00/",
        "/availability/?sku=%00",
        "/returns/?status=%00",
        "/orders/?page=%00",
    ],
)
def test_nul_in_a_page_path_or_filter_is_a_400_page(page_client, path):
    response = page_client.get(path)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert "NUL" in response.content.decode()


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_nul_in_a_back_office_form_is_a_400_page(page_client, encoding):
    item = exception_raise(kind="test", reason="r")
    form = {"status": "resolved", "resolution": "done\x00"}
    path = f"/exceptions/{item.pk}/close"
    if encoding == "urlencoded":
        response = page_client.post(
            path, urlencode(form), content_type="application/x-www-form-urlencoded"
        )
    else:
        response = page_client.post(path, form)
    assert response.status_code == 400
    assert "NUL" in response.content.decode()
    item.refresh_from_db()
    assert item.status == "open"


# --- bodies ---------------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", [2**31, 2**63, -(2**31)])
def test_a_stock_quantity_past_the_database_integer_is_a_400(staff, quantity):
    ops = staff("operations")
    ops.post("/api/v1/inventory/locations", {"code": "WH1", "kind": "warehouse"}, format="json")
    ops.post("/api/v1/inventory/items", {"sku": "TEE"}, format="json")
    response = ops.post(
        "/api/v1/inventory/events", event("adjustment", quantity=quantity), format="json"
    )
    assert_errors(response, 400, "quantity")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("inventory/items", {"sku": "TEE", "cost_currency": "EURO"}, "cost_currency"),
        ("inventory/items", {"sku": "TEE", "description": "x" * 301}, "description"),
        ("inventory/items", {"sku": "SET", "components": {"TEE": 2**31}}, "components.TEE"),
        ("inventory/locations", {"code": "WH1", "kind": "store", "name": "x" * 201}, "name"),
    ],
)
def test_master_data_past_what_the_database_holds_is_a_400_naming_it(admin, path, body, field):
    assert_errors(admin.post(f"/api/v1/{path}", body, format="json"), 400, field)


def test_stock_that_would_pass_the_database_integer_is_a_422_and_changes_nothing(staff):
    ops = staff("operations")
    ops.post("/api/v1/inventory/locations", {"code": "WH1", "kind": "warehouse"}, format="json")
    ops.post("/api/v1/inventory/items", {"sku": "TEE"}, format="json")
    ops.post("/api/v1/inventory/events", event("receipt", quantity=2**31 - 1), format="json")

    response = ops.post("/api/v1/inventory/events", event("receipt", quantity=1), format="json")

    assert_errors(response, 422)
    [position] = ops.get("/api/v1/inventory/positions?sku=TEE").json()["results"]
    assert position["on_hand"] == 2**31 - 1


# --- no endpoint ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/orders/abc"),
        ("get", "/api/v1/orders/-1"),
        ("post", "/api/v1/orders/abc/cancel"),
        ("get", "/api/v1/nothing"),
        ("get", "/api/v1/inventory/events/jobs/x"),
        ("post", "/api/v1/returns/1.5/authorize"),
        ("get", "/api/v2/orders/"),
    ],
)
def test_a_path_with_no_endpoint_under_the_api_is_a_json_404(admin, client, method, path):
    assert_errors(getattr(admin, method)(path), 404)
    assert_errors(getattr(client, method)(path), 404)  # no credentials: still JSON


def test_a_method_an_endpoint_does_not_take_is_a_json_405(admin):
    assert_errors(admin.delete("/api/v1/orders/"), 405)


def test_pages_keep_their_html_404(page_client):
    response = page_client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


# --- form bodies where the API takes JSON ------------------------------------------------------


def test_a_form_sent_to_a_json_endpoint_is_a_415_not_an_empty_body(admin):
    # Read as a form first, the body reached DRF empty: an order's one-unit cancel cancelled
    # every line. Now the JSON endpoint finds it unread and refuses the media type.
    for body in ({"sku": "TEE"}, {"sku": "TEE\x00"}):
        assert_errors(admin.post("/api/v1/inventory/items", body), 415)
        response = admin.post(
            "/api/v1/inventory/items",
            urlencode(body),
            content_type="application/x-www-form-urlencoded",
        )
        assert_errors(response, 415)
    from inventory.models import Item

    assert not Item.objects.exists()


def test_a_form_sent_to_a_channel_keeps_its_raw_message_and_is_a_400(channel):
    from retailsync.core.models import InboundMessage

    response = channel.client.post(
        f"/api/v1/channels/{channel.channel.code}/orders",
        {"external_id": "WEB-9"},  # multipart
        HTTP_AUTHORIZATION=f"Token {channel.token}",
    )
    assert_errors(response, 400)
    assert response.json()["errors"][0]["message"].startswith("body is not valid JSON")
    message = InboundMessage.objects.get()
    assert b'name="external_id"' in bytes(message.body) and b"WEB-9" in bytes(message.body)
    assert message.status == InboundMessage.Status.REJECTED


def test_form_fields_over_the_memory_limit_are_a_413(page_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    item = exception_raise(kind="test", reason="r")
    response = page_client.post(
        f"/exceptions/{item.pk}/close",
        urlencode({"status": "resolved", "resolution": "x" * 2000}),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413
    assert "over the limit of 1000 bytes" in response.content.decode()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("safety_stock", 10**29),
        ("cap", 2**31),
        ("reservation_ttl_minutes", 10**12),
        ("item_safety_stock", {"TEE": 2**31}),
    ],
)
def test_allocation_numbers_past_what_is_stored_are_a_400_naming_them(admin, channel, field, value):
    admin.post("/api/v1/inventory/locations", {"code": "WH1", "kind": "warehouse"}, format="json")
    admin.post("/api/v1/inventory/items", {"sku": "TEE"}, format="json")
    path = f"/api/v1/channels/{channel.channel.code}/allocation"
    response = admin.put(path, {"locations": ["WH1"], field: value}, format="json")
    errors = assert_errors(response, 400)
    assert errors[0]["field"].startswith(field), errors
    assert admin.put(path, {"locations": ["WH1"]}, format="json").status_code == 200


@pytest.mark.parametrize(
    "path", ["/api/v1/exceptions/?overdue=", "/api/v1/settlements/batches/?is_statement="]
)
def test_a_boolean_filter_is_true_or_false_and_any_other_word_a_400(admin, path):
    name = path.rsplit("?", 1)[1].rstrip("=")
    for word in ("banana", "null", "yes please"):
        assert_errors(admin.get(path + word), 400, name)
    for word in ("true", "false", "1", "0", ""):
        assert admin.get(path + word).status_code == 200, word
