"""Canonical-JSON orders (API.md) with the arithmetic written out by hand."""

from __future__ import annotations

import copy
from typing import Any

# 2 × 24.50 = 49.00 and 1 × 15.00 = 15.00: subtotal 64.00.
# Discount 5.00 on the first line. Tax 3.53 + 1.20 on lines, 0.48 on shipping 6.00.
# Total = 64.00 − 5.00 + 6.00 + 3.53 + 1.20 + 0.48 = 70.21.
CANONICAL_ORDER: dict[str, Any] = {
    "external_id": "WEB-1001",
    "order_number": "#1001",
    "currency": "USD",
    "placed_at": "2026-11-20T14:03:00-05:00",
    "prices_include_tax": False,
    "customer_email": "Jane.Doe@example.com",
    "fulfilment_location": "WH1",
    "lines": [
        {
            "id": "L1",
            "sku": "TSHIRT-BLK-M",
            "quantity": 2,
            "unit_price": "24.50",
            "discount": "5.00",
            "tax": "3.53",
        },
        {
            "id": "L2",
            "sku": "MUG-WHT",
            "quantity": 1,
            "unit_price": "15.00",
            "discount": "0",
            "tax": "1.20",
        },
    ],
    "shipping": {"amount": "6.00", "discount": "0.00", "tax": "0.48"},
    "payments": [{"gateway": "stripe", "reference": "ch_3PqWeb1001", "amount": "70.21"}],
    "total": "70.21",
    "gift_message": "Happy birthday",
}


def canonical_order(**changes: Any) -> dict[str, Any]:
    order = copy.deepcopy(CANONICAL_ORDER)
    order.update(changes)
    return order
