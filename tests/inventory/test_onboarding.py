"""Onboarding a channel: `create_channel --locations` gives it its allocation (or refuses an
unknown location and creates nothing), the overview says which channels have no locations, and
the README's path (a location, stock, a channel with --locations, the fixture order) ends with
the order reserved on the stock page."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from rest_framework.test import APIClient

from inventory.models import ChannelLocation
from inventory.services import allocation_set
from retailsync.core.models import Channel
from retailsync.core.services import channel_create, user_create
from tests.conftest import fixture_bytes

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def create_channel(*args: str) -> tuple[dict, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("create_channel", *args, stdout=out, stderr=err)
    return json.loads(out.getvalue()), err.getvalue()


def test_create_channel_with_locations_allocates_them_in_priority_order(stock):
    printed, warned = create_channel("popup", "--source", "canonical", "--locations", "WH2, WH1")

    assert printed["locations"] == ["WH2", "WH1"]
    assert printed["token"]
    assert warned == ""
    feeding = ChannelLocation.objects.filter(allocation__channel__code="popup").order_by("priority")
    assert [cl.location.code for cl in feeding] == ["WH2", "WH1"]


def test_create_channel_with_an_unknown_location_says_so_and_creates_nothing(stock):
    with pytest.raises(CommandError) as refused:
        create_channel("popup", "--source", "canonical", "--locations", "WH1,WH9")

    assert str(refused.value) == (
        "unknown location WH9: create it first (POST /api/v1/inventory/locations or the admin, "
        "Inventory › Locations), or choose from STORE1, WH1, WH2. Nothing was created."
    )
    assert refused.value.returncode == 1
    assert not Channel.objects.filter(code="popup").exists()


@pytest.mark.django_db(transaction=True)
def test_create_channel_exits_non_zero_on_an_unknown_location(stock):
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**connection.settings_dict),
    }
    command = ["create_channel", "popup", "--source=canonical", "--locations=NOWHERE"]
    done = subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 1
    assert done.stdout == ""
    assert "unknown location NOWHERE: create it first" in done.stderr
    assert not Channel.objects.filter(code="popup").exists()


def test_create_channel_without_locations_warns_that_every_order_is_a_backorder(db):
    printed, warned = create_channel("popup", "--source", "canonical")

    assert printed["locations"] == []
    assert warned.strip() == (
        "Channel popup has no locations: every order it sends is a backorder until it has some. "
        "Set them with PUT /api/v1/channels/popup/allocation or in the admin (Inventory › "
        "Channel allocations), or create the channel with --locations A,B."
    )


def test_the_overview_says_which_channels_have_no_locations_and_how_to_fix_it(stock, client):
    channel_create(code="popup", source="canonical")
    web, _ = channel_create(code="web", source="canonical")
    allocation_set(channel=web, locations=["WH1", "WH2"])
    user, _ = user_create(username="fiona", role="finance", password="fiona-pass-2026")
    client.force_login(user)

    page = client.get("/").content.decode()

    notice = re.search(r'<li class="error" id="unallocated">(.*?)</li>', page, re.S)
    assert notice is not None
    text = " ".join(re.sub(r"<[^>]+>", "", notice.group(1)).split())
    assert text.startswith(
        "popup has no locations: every order it sends is a backorder, and it has nothing to sell."
    )
    assert "PUT /api/v1/channels/&lt;code&gt;/allocation" in text
    assert "Inventory › Channel allocations" in text
    assert 'href="/admin/inventory/channelallocation/"' in notice.group(1)
    rows = dict(
        re.findall(r'<tr data-channel="([^"]+)">.*?<td class="locations">(.*?)</td>', page, re.S)
    )
    assert rows["web"] == "WH1 → WH2"
    assert "none: every order is a backorder" in rows["popup"]


def test_the_readme_path_ends_with_the_order_reserved_on_the_stock_page(
    db, client, django_capture_on_commit_callbacks
):
    readme = (ROOT / "README.md").read_text()
    assert "--locations WH1" in readme
    assert "--data @tests/fixtures/canonical/order.json" in readme
    ops = APIClient()
    ops.credentials(HTTP_AUTHORIZATION=f"Token {user_create(username='ops', role='operations')[1]}")

    def post(path: str, body: object) -> None:
        response = ops.post(f"/api/v1/{path}", body, format="json")
        assert response.status_code in (200, 201), response.json()

    post("inventory/locations", {"code": "WH1", "kind": "warehouse", "name": "Main warehouse"})
    post("inventory/items", {"sku": "TSHIRT-BLK-M", "description": "Organic tee, black, M"})
    post("inventory/items", {"sku": "MUG-WHT", "description": "Stoneware mug"})
    post(
        "inventory/events",
        [
            {"event_id": f"PO-1-{n}", "source": "wms", "type": "receipt", "sku": sku}
            | {"location": "WH1", "quantity": q, "occurred_at": "2026-11-20T09:00:00Z"}
            for n, (sku, q) in enumerate([("TSHIRT-BLK-M", 10), ("MUG-WHT", 5)], 1)
        ],
    )
    printed, _ = create_channel("popup", "--source", "canonical", "--locations", "WH1")
    shop = APIClient()
    with django_capture_on_commit_callbacks(execute=True):
        response = shop.post(
            "/api/v1/channels/popup/orders",
            fixture_bytes("canonical/order.json"),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {printed['token']}",
        )
    assert response.status_code == 201, response.json()

    client.force_login(user_create(username="olga", role="operations", password="x-pass-2026")[0])
    page = client.get("/stock/?location=WH1").content.decode()
    rows = {
        sku: [int(n) for n in numbers]
        for sku, numbers in (
            (m.group(1), re.findall(r'<td class="num">(\d+)</td>', m.group(2)))
            for m in re.finditer(
                r'<tr><td><a href="/stock/([^/]+)/">.*?</td>(.*?)</tr>', page, re.S
            )
        )
    }
    # On hand, reserved, damaged, quality hold, in transit.
    assert rows == {"MUG-WHT": [5, 1, 0, 0, 0], "TSHIRT-BLK-M": [10, 2, 0, 0, 0]}
