"""The back office's lists: search by the numbers people see, filters, sorting, pages, and an
export (CSV, XLSX) of exactly the filtered rows, numbers as numbers, no formula run."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import openpyxl
import pytest

from retailsync.core.services import exception_raise
from tests.orders.payloads import canonical_order
from tests.settlements.pages import L, batch_make, client_for

pytestmark = pytest.mark.django_db


def rows_csv(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def rows_xlsx(response) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    return [dict(zip(header, r, strict=True)) for r in rows]


def listed(page: str, attribute: str) -> list[str]:
    return re.findall(rf'<tr {attribute}="([^"]+)"', page)


@pytest.fixture
def orders(channel):  # type: ignore[no-untyped-def]
    """Three web orders: WS-6018 (70.21), WS-6019 (70.21) and one of a mug only (16.20)."""
    ids = {}
    for ext, number in (("6018", "WS-6018"), ("6019", "WS-6019")):
        ids[number] = channel.post_order(
            canonical_order(external_id=ext, order_number=number)
        ).json()["id"]
    mug = canonical_order(
        external_id="6020",
        order_number="WS-6020",
        lines=[{"sku": "MUG-WHT", "quantity": 1, "unit_price": "15.00", "tax": "1.20"}],
        shipping={"amount": "0", "tax": "0"},
        payments=[],
        total="16.20",
    )
    ids["WS-6020"] = channel.post_order(mug).json()["id"]
    return ids


def test_the_order_list_finds_an_order_by_its_number_external_id_or_sku(orders):
    finance = client_for("finance")

    def found(q: str) -> set[str]:
        page = finance.get("/orders/", {"q": q}).content.decode()
        return {pk for pk in listed(page, "data-order")}

    assert found("WS-6018") == {str(orders["WS-6018"])}
    assert found("ws-6019") == {str(orders["WS-6019"])}
    assert found("6020") == {str(orders["WS-6020"])}
    assert found("TSHIRT-BLK-M") == {str(orders["WS-6018"]), str(orders["WS-6019"])}
    assert found("nothing-like-it") == set()


def test_the_order_list_sorts_by_a_column_and_shows_amounts_with_their_currency(orders):
    finance = client_for("finance")

    by_total = finance.get("/orders/", {"sort": "total"}).content.decode()
    by_total_desc = finance.get("/orders/", {"sort": "-total"}).content.decode()

    assert listed(by_total, "data-order")[0] == str(orders["WS-6020"])
    assert listed(by_total_desc, "data-order")[-1] == str(orders["WS-6020"])
    assert "$70.21" in by_total and "$16.20" in by_total
    assert f'<a href="/orders/{orders["WS-6018"]}/">WS-6018</a>' in by_total


def test_an_order_export_holds_exactly_the_filtered_rows_in_csv_and_xlsx(orders):
    finance = client_for("finance")
    query = {"q": "TSHIRT-BLK-M", "sort": "order"}

    as_csv = rows_csv(finance.get("/orders/", {**query, "export": "csv"}))
    as_xlsx = rows_xlsx(finance.get("/orders/", {**query, "export": "xlsx"}))

    assert [(r["Order"], r["Total"], r["Currency"]) for r in as_csv] == [
        ("WS-6018", "70.21", "USD"),
        ("WS-6019", "70.21", "USD"),
    ]
    assert [r["Order"] for r in as_xlsx] == ["WS-6018", "WS-6019"]
    # Numbers stay numbers in the spreadsheet, to the cent.
    assert [r["Total"] for r in as_xlsx] == [70.21, 70.21]
    assert all(isinstance(r["Subtotal"], int | float) for r in as_xlsx)
    assert Decimal(str(as_xlsx[0]["Tax"])) == Decimal("5.21")
    assert as_xlsx[0]["Status"] == "accepted"


def test_an_exception_export_neutralises_a_formula_and_keeps_the_filter(db):
    exception_raise(kind="order_rejected", reason='=HYPERLINK("http://evil.example","fix")')
    exception_raise(kind="order_rejected", reason="@SUM(1+1)")
    exception_raise(kind="backorder", reason="2 of 3 × TEE could not be reserved")
    finance = client_for("finance")

    as_csv = rows_csv(finance.get("/exceptions/", {"kind": "order_rejected", "export": "csv"}))
    as_xlsx = rows_xlsx(finance.get("/exceptions/", {"kind": "order_rejected", "export": "xlsx"}))

    assert sorted(r["What happened"] for r in as_csv) == [
        '\'=HYPERLINK("http://evil.example","fix")',
        "'@SUM(1+1)",
    ]
    assert sorted(str(r["What happened"]) for r in as_xlsx) == sorted(
        r["What happened"] for r in as_csv
    )
    assert {r["Kind"] for r in as_csv} == {"order_rejected"}
    assert "Select" not in as_csv[0]  # the row checkboxes are not exported


def test_an_export_of_an_unknown_format_is_refused(db):
    response = client_for("finance").get("/orders/", {"export": "pdf"})
    assert response.status_code == 400


def test_the_stock_ledger_finds_movements_by_sku_and_by_the_orders_number(
    make_channel, staff, django_capture_on_commit_callbacks
):
    ops = staff("operations")
    for body in ({"code": "WH1", "kind": "warehouse"},):
        ops.post("/api/v1/inventory/locations", body, format="json")
    for sku in ("TSHIRT-BLK-M", "MUG-WHT"):
        ops.post("/api/v1/inventory/items", {"sku": sku}, format="json")
    web = make_channel("canonical", code="web")
    ops.put("/api/v1/channels/web/allocation", {"locations": ["WH1"]}, format="json")
    ops.post(
        "/api/v1/inventory/events",
        [
            {
                "source": "wms",
                "event_id": f"r-{sku}",
                "type": "receipt",
                "sku": sku,
                "location": "WH1",
                "quantity": 5,
                "occurred_at": "2026-11-20T10:00:00Z",
            }
            for sku in ("TSHIRT-BLK-M", "MUG-WHT")
        ],
        format="json",
    )
    with django_capture_on_commit_callbacks(execute=True):
        order_id = web.post_order(
            canonical_order(external_id="6018", order_number="WS-6018")
        ).json()["id"]
    ops_page = client_for("operations", "otto")

    by_order = ops_page.get("/stock/ledger/", {"q": "WS-6018"}).content.decode()
    by_sku = rows_csv(ops_page.get("/stock/ledger/", {"q": "MUG-WHT", "export": "csv"}))

    assert by_order.count(f'<a href="/orders/{order_id}/" data-object>WS-6018</a>') == 2
    assert sorted((r["SKU"], r["Reason"], r["Reserved"]) for r in by_sku) == [
        ("MUG-WHT", "receipt", "0"),
        ("MUG-WHT", "reservation", "1"),
    ]


def test_the_batch_list_finds_a_payout_by_its_id_and_exports_what_is_filtered(db):
    batch_make("po_1QxA", [L("charge", "100.00", "-3.20")], payout="96.80")
    batch_make("po_2QxB", [L("charge", "50.00", "-1.75")], payout="40.00")
    finance = client_for("finance")

    page = finance.get("/settlements/", {"q": "po_1Q"}).content.decode()
    varied = rows_csv(finance.get("/settlements/", {"variance": "nonzero", "export": "csv"}))
    as_xlsx = rows_xlsx(finance.get("/settlements/", {"q": "po_2QxB", "export": "xlsx"}))

    assert len(listed(page, "data-batch")) == 1 and "po_1QxA" in page
    # 40.00 paid for 50.00 − 1.75 = 48.25 of lines: 8.25 short.
    assert [(r["Payout id"], r["Variance"]) for r in varied] == [("po_2QxB", "-8.25")]
    assert [(r["Payout id"], r["Net"], r["Payout"]) for r in as_xlsx] == [("po_2QxB", 48.25, 40.0)]
