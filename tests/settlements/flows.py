"""Orders with payments, a fee schedule, and uploads run the way finance runs them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from settlements.loading import upload_create, upload_process
from settlements.models import FeeSchedule, ProviderSettings, Upload
from tests.orders.payloads import canonical_order

FILES = Path(__file__).parent / "files"


def upload(path: str, provider: str, channel: Any = None) -> Upload:
    with (FILES / path).open("rb") as stream:
        made = upload_create(
            stream=stream,
            name=Path(path).name,
            provider=provider,
            channel=channel,
            user=None,
            now=timezone.now(),
        )
    return upload_process(made.pk)


def paid_order(number: int, total: str, payments: list[tuple[str, str]]) -> dict[str, Any]:
    """A one-line order of `total` (no tax, no shipping) paid by Stripe charges."""
    return canonical_order(
        external_id=f"WEB-{number}",
        order_number=f"#{number}",
        lines=[{"id": "L1", "sku": "MUG-WHT", "quantity": 1, "unit_price": total, "tax": "0"}],
        shipping={"amount": "0", "discount": "0", "tax": "0"},
        payments=[{"gateway": "stripe", "reference": r, "amount": a} for r, a in payments],
        total=total,
    )


@pytest.fixture
def stripe_orders(channel: Any, django_capture_on_commit_callbacks: Any) -> Any:
    """#1001 70.21 (ch_A1001); #1002 100.00 (ch_B1002); #1003 50.00 split 30.00 + 20.00.
    Stripe's fee: 2.9 % + 0.30."""
    FeeSchedule.objects.create(provider="stripe", percent=Decimal("2.9"), fixed=Decimal("0.30"))
    ProviderSettings.objects.create(provider="stripe", channel=channel.channel)
    with django_capture_on_commit_callbacks(execute=True):
        for body in (
            paid_order(1001, "70.21", [("ch_A1001", "70.21")]),
            paid_order(1002, "100.00", [("ch_B1002", "100.00")]),
            paid_order(1003, "50.00", [("ch_C1003a", "30.00"), ("ch_C1003b", "20.00")]),
        ):
            assert channel.post_order(body).status_code == 201
    return channel
